// Two complete stacks over an in-memory cable (tests/tcp/two_stacks_harness.hpp): bulk transfers that must
// arrive byte-identical under loss, reordering, duplication and corruption, and SACK recovery (RFC 2018,
// RFC 6675) that retransmits what was lost and little else. Virtual time; deterministic seeds.
// The bulk size is TAPSTACK_TWO_STACKS_BYTES (default kDefaultBytes; 64M for the full-size runs).
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "two_stacks_harness.hpp"

namespace tapstack::tcp::testing {
namespace {

constexpr std::size_t kDefaultBytes = std::size_t{64} << 20;

struct Case {
  const char* name;
  FaultLink::Faults faults;  // applied in both directions
};

void run_case(const Case& c, std::uint64_t seed) {
  const std::size_t size = transfer_size(kDefaultBytes);
  TwoStacks::Options o;
  o.a_to_b = c.faults;
  o.b_to_a = c.faults;
  o.seed = seed;
  TwoStacks s{o};
  const auto wall0 = std::chrono::steady_clock::now();
  const TransferResult r = run_transfer(s, size);
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - wall0);
  std::cout << "[two_stacks] " << c.name << ": " << size << " bytes, wall " << wall.count() << " ms, virtual "
            << std::chrono::duration_cast<std::chrono::milliseconds>(r.virtual_time).count() << " ms, rounds "
            << r.rounds << ", sender segs " << r.sender.segs_out << " retransmits " << r.sender.retransmits
            << " (fast " << r.sender.fast_retransmits << ", rto " << r.sender.rto_expirations << "), dropped a->b "
            << s.fault_a.counters().dropped << " b->a " << s.fault_b.counters().dropped << "\n";
  ASSERT_TRUE(r.completed) << r.failure;
  EXPECT_EQ(r.received, size);
  EXPECT_EQ(r.received_hash, r.sent_hash);
  EXPECT_GE(r.sender.bytes_out, size);
}

TEST(TcpTwoStacks, BulkTransferNoLoss) {
  run_case({"no loss", {}}, 1);
}
TEST(TcpTwoStacks, BulkTransferOnePercentLoss) {
  run_case({"1% loss", {.drop = 0.01}}, 2);
}
TEST(TcpTwoStacks, BulkTransferFivePercentLoss) {
  run_case({"5% loss", {.drop = 0.05}}, 3);
}
TEST(TcpTwoStacks, BulkTransferTenPercentLoss) {
  run_case({"10% loss", {.drop = 0.10}}, 4);
}
TEST(TcpTwoStacks, BulkTransferWithReordering) {
  run_case({"5% reorder", {.reorder = 0.05}}, 5);
}
TEST(TcpTwoStacks, BulkTransferWithDuplication) {
  run_case({"5% duplicate", {.duplicate = 0.05}}, 6);
}
TEST(TcpTwoStacks, BulkTransferWithCorruption) {
  // A flipped bit fails the Ethernet-less checks (IP or TCP checksum) and becomes a loss, or damages the
  // MAC header and is dropped there: the data must still arrive intact.
  run_case({"1% corrupt + 1% loss", {.drop = 0.01, .corrupt = 0.01}}, 7);
}

// RFC 2018 / RFC 6675: with SACK, loss recovery resends the holes, not the data behind them. Loss only on
// the data path, so every retransmission is caused by a data-segment drop; the tap below the FaultLink
// counts exactly the payload bytes that were dropped.
TEST(TcpTwoStacks, SackRecoveryRetransmitsOnlyWhatWasLost) {
  const std::size_t size = std::min<std::size_t>(transfer_size(kDefaultBytes), std::size_t{16} << 20);
  TwoStacks::Options o;
  o.a_to_b = {.drop = 0.02};
  o.seed = 11;
  TwoStacks s{o};
  const TransferResult r = run_transfer(s, size);
  ASSERT_TRUE(r.completed) << r.failure;
  EXPECT_EQ(r.received_hash, r.sent_hash);
  const std::uint64_t dropped_bytes = s.tx_a.tcp_payload_bytes - s.wire_a.tcp_payload_bytes;
  const std::uint64_t retransmitted_bytes = r.sender.bytes_out - size;
  std::cout << "[two_stacks] SACK: dropped " << s.fault_a.counters().dropped << " frames / " << dropped_bytes
            << " payload bytes; retransmitted " << r.sender.retransmits << " segments / " << retransmitted_bytes
            << " bytes (fast " << r.sender.fast_retransmits << ", rto " << r.sender.rto_expirations << ")\n";
  ASSERT_GT(dropped_bytes, 0u);
  // Every dropped byte had to be sent again ...
  EXPECT_GE(retransmitted_bytes, dropped_bytes);
  // ... and SACK keeps the rest to a sliver: at most 2% more than was lost (a retransmission that itself was
  // dropped is counted on both sides, so it does not skew the ratio).
  EXPECT_LE(retransmitted_bytes, dropped_bytes + dropped_bytes / 50);
  // The receiver never saw a byte twice beyond the spurious retransmissions allowed above.
  EXPECT_LE(r.receiver.bytes_in, size + (retransmitted_bytes - dropped_bytes) + dropped_bytes / 50);
}

}  // namespace
}  // namespace tapstack::tcp::testing
