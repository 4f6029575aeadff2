// Every truncation and many corruptions of valid images either load or fail
// with LoadError, never read out of bounds (run under ASan/UBSan) and never
// write outside RAM (FakeMemory flags that).
#include <gtest/gtest.h>

#include <random>

#include "tests/unit/loader/test_image.h"

namespace vmxsim::loader::test {
namespace {

// Checks ranges but keeps nothing: corrupted sizes may ask for gigabytes.
class NullMemory : public GuestMemory {
public:
    explicit NullMemory(uint64_t ram) : m_ram(ram) {}
    uint64_t ram_size() const override { return m_ram; }
    void write(uint64_t paddr, const void*, size_t len) override {
        ++writes;
        if (!ram_contains(m_ram, paddr, len)) ADD_FAILURE() << "write outside RAM at " << std::hex << paddr;
    }
    int writes = 0;

private:
    uint64_t m_ram;
};

// Returns whether it loaded.
bool load_or_error(const std::vector<uint8_t>& f, uint64_t ram) {
    NullMemory mem(ram);
    try {
        load_kernel_bytes(f, "fuzz", "c", {}, mem);
        return true;
    } catch (const LoadError& e) {
        EXPECT_EQ(mem.writes, 0) << e.what();
        EXPECT_EQ(std::string(e.what()).rfind("fuzz: ", 0), 0u) << e.what();
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
    return false;
}

struct Seed {
    std::vector<uint8_t> bytes;
    size_t shortest_valid;  // truncations at least this long still load
};

std::vector<Seed> seeds() {
    MbHeader a;
    a.flags = 1u << 16;
    a.header_addr = a.load_addr = 0x100000;
    a.bss_end_addr = 0x102000;
    a.entry_addr = 0x100020;
    std::vector<uint8_t> flat = a.bytes();
    flat.resize(0x80, 0x90);
    ElfSpec mb64 = kvm_unit_test_like_spec();
    mb64.is64 = true;
    std::vector<Seed> v;
    for (auto b : {build_elf(kvm_unit_test_like_spec()).bytes, build_elf(mb64).bytes,
                   build_elf(plain_elf64_spec()).bytes})
        v.push_back({b, b.size()});  // the last segment's data ends the file
    v.push_back({flat, 32});          // load_end_addr 0: loads whatever follows the header
    return v;
}

TEST(LoaderRobustness, EveryTruncation) {
    for (const auto& seed : seeds()) {
        int loaded = 0;
        for (size_t n = 0; n <= seed.bytes.size(); ++n)
            loaded += load_or_error(std::vector<uint8_t>(seed.bytes.begin(), seed.bytes.begin() + n), 64 * kMiB);
        EXPECT_EQ(size_t(loaded), seed.bytes.size() - seed.shortest_valid + 1);
    }
}

TEST(LoaderRobustness, RandomHeaderCorruption) {
    std::mt19937_64 rng(12345);  // fixed seed: the same cases every run
    const uint64_t rams[] = {1 * kMiB, 64 * kMiB, 5 * kGiB};
    for (const auto& seed : seeds()) {
        int loaded = 0, failed = 0;
        for (int iter = 0; iter < 3000; ++iter) {
            std::vector<uint8_t> f = seed.bytes;
            int flips = 1 + int(rng() % 4);
            for (int k = 0; k < flips; ++k) {
                size_t at = rng() % std::min<size_t>(f.size(), 0x100);  // headers live here
                f[at] = (rng() % 3 == 0) ? 0xFF : uint8_t(rng());
            }
            (load_or_error(f, rams[rng() % 3]) ? loaded : failed)++;
        }
        EXPECT_GT(loaded, 0);
        EXPECT_GT(failed, 0);
    }
}

}  // namespace
}  // namespace vmxsim::loader::test
