#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/loader/test_image.h"

namespace vmxsim::loader::test {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> paths(const std::vector<Module>& m) {
    std::vector<std::string> v;
    for (const Module& x : m) v.push_back(x.path + "|" + x.cmdline);
    return v;
}

TEST(ModuleList, QemuSyntax) {
    EXPECT_TRUE(parse_module_list("").empty());
    EXPECT_EQ(paths(parse_module_list("a")), (std::vector<std::string>{"a|a"}));
    EXPECT_EQ(paths(parse_module_list("a,b")), (std::vector<std::string>{"a|a", "b|b"}));
    EXPECT_EQ(paths(parse_module_list("env.txt x=1 y,b")), (std::vector<std::string>{"env.txt|env.txt x=1 y", "b|b"}));
    EXPECT_EQ(paths(parse_module_list("a,,b c,,d,e")), (std::vector<std::string>{"a,b|a,b c,d", "e|e"}));
    EXPECT_EQ(paths(parse_module_list("a,")), (std::vector<std::string>{"a|a"}));  // as QEMU
}

TEST(ModuleList, EntriesWithoutAFileNameAreErrors) {
    EXPECT_THROW(parse_module_list(",a"), LoadError);
    try {
        parse_module_list("a, b");
        FAIL() << "no error";
    } catch (const LoadError& e) {
        EXPECT_THAT(e.what(), HasSubstr("module 2 of \"a, b\" has no file name"));
    }
}

TEST(RamLayout, Contains) {
    EXPECT_TRUE(ram_contains(64 * kMiB, 0, 64 * kMiB));
    EXPECT_FALSE(ram_contains(64 * kMiB, 0, 64 * kMiB + 1));
    EXPECT_FALSE(ram_contains(64 * kMiB, 64 * kMiB, 1));
    EXPECT_FALSE(ram_contains(64 * kMiB, ~0ULL, 2));  // wraps
    const uint64_t ram = 5 * kGiB;  // low 3.5 GiB + high 1.5 GiB
    EXPECT_TRUE(ram_contains(ram, 0xDFFFF000ULL, 0x1000));
    EXPECT_FALSE(ram_contains(ram, 0xDFFFF000ULL, 0x1001));
    EXPECT_FALSE(ram_contains(ram, 0xF0000000ULL, 1));
    EXPECT_TRUE(ram_contains(ram, 4 * kGiB, ram - 0xE0000000ULL));
    EXPECT_FALSE(ram_contains(ram, 4 * kGiB, ram - 0xE0000000ULL + 1));
    EXPECT_FALSE(ram_contains(ram, ~0ULL - 10, 5));
}

}  // namespace
}  // namespace vmxsim::loader::test
