// Tests for stack/function_ref: a non-owning callable reference.
#include "stack/function_ref.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace tapstack {
namespace {

int apply(FunctionRef<int(int)> f, int x) { return f(x); }
int twice(int x) { return 2 * x; }

TEST(FunctionRef, LambdaWithCaptures) {
  int calls = 0;
  const int offset = 10;
  auto f = [&calls, offset](int x) {
    ++calls;
    return x + offset;
  };
  EXPECT_EQ(apply(f, 1), 11);
  EXPECT_EQ(apply(f, 2), 12);
  EXPECT_EQ(calls, 2);
  // A temporary lambda lives until the end of the full expression that calls through the reference.
  EXPECT_EQ(apply([&](int x) { return x * offset; }, 3), 30);
}

TEST(FunctionRef, MutableLambdaKeepsItsStateInTheReferencedObject) {
  auto counter = [n = 0]() mutable { return ++n; };
  FunctionRef<int()> r = counter;
  EXPECT_EQ(r(), 1);
  EXPECT_EQ(r(), 2);
  EXPECT_EQ(counter(), 3);  // the reference did not copy the lambda
  FunctionRef<int()> copy = r;
  EXPECT_EQ(copy(), 4);
}

TEST(FunctionRef, FunctorsConstCallablesAndFunctions) {
  struct Add {
    int k;
    int operator()(int x) const { return x + k; }
  };
  const Add add{5};
  EXPECT_EQ(apply(add, 1), 6);
  EXPECT_EQ(apply(twice, 4), 8);
  EXPECT_EQ(apply(&twice, 5), 10);
}

TEST(FunctionRef, ConvertsResultAndForwardsMoveOnlyArguments) {
  std::string out;
  auto sink = [&](std::unique_ptr<std::string> s) { out = *s; };
  FunctionRef<void(std::unique_ptr<std::string>)> r = sink;
  r(std::make_unique<std::string>("moved"));
  EXPECT_EQ(out, "moved");
  auto small = [] { return 'a'; };
  FunctionRef<int()> widen = small;  // R is convertible from the callable's result
  EXPECT_EQ(widen(), 'a');
  auto by_ref = [](std::string& s) { s += "!"; };
  FunctionRef<void(std::string&)> mutate = by_ref;
  std::string s = "hi";
  mutate(s);
  EXPECT_EQ(s, "hi!");
}

}  // namespace
}  // namespace tapstack
