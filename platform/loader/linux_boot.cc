#include "platform/loader/linux_boot.h"

#include <algorithm>

#include "platform/loader/byte_io.h"
#include "platform/loader/multiboot_info.h"

namespace vmxsim::loader::detail {

namespace sh = setup_header;

namespace {

constexpr uint64_t kEbdaStart = 0x9fc00;
constexpr uint64_t kMiB = 1ull << 20;

std::string protocol_str(uint16_t v) {
    return std::to_string(v >> 8) + "." + (((v & 0xff) < 10) ? "0" : "") + std::to_string(v & 0xff);
}

void put_le16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v);
    p[1] = uint8_t(v >> 8);
}

// The e820 map in the zero page: the platform's memory map (the same one multiboot kernels get).
void put_e820(uint8_t* zp, uint64_t ram) {
    const std::vector<MmapEntry> map = memory_map(ram);
    const size_t n = std::min<size_t>(map.size(), zero_page::kE820MaxEntries);
    for (size_t i = 0; i < n; ++i) {
        uint8_t* e = zp + zero_page::kE820Table + i * zero_page::kE820EntrySize;
        put_le64(e, map[i].base);
        put_le64(e + 8, map[i].length);
        put_le32(e + 16, map[i].type);  // multiboot's and e820's type numbers agree (1 RAM, 2 reserved)
    }
    zp[zero_page::kE820Entries] = uint8_t(n);
}

}  // namespace

Initrd place_initrd(const std::vector<Module>& initrds, const std::string& name, uint64_t bottom, uint64_t top) {
    Initrd r;
    for (const Module& m : initrds) {
        if (m.cmdline != m.path) fail(name, "-initrd '" + m.cmdline + "': a Linux initrd takes no arguments");
        std::vector<uint8_t> d = read_host_file(m.path, "initrd");
        r.data.insert(r.data.end(), d.begin(), d.end());
    }
    if (r.data.empty()) return r;
    if (r.data.size() > top || ((top - r.data.size()) & ~(kPageSize - 1)) < bottom)
        fail(name, "the initrd (" + std::to_string(r.data.size()) + " bytes) does not fit between the kernel " +
                       "(ends at " + hex(bottom) + ") and " + hex(top) + "; give the machine more RAM (-m)");
    r.paddr = (top - r.data.size()) & ~(kPageSize - 1);
    return r;
}

KernelArguments kernel_arguments(const std::string& name, const std::string& cmdline, uint64_t cmdline_addr,
                                 const std::vector<Module>& initrds, uint64_t initrd_bottom, uint64_t initrd_top) {
    if (cmdline_addr + cmdline.size() + 1 > kEbdaStart)
        fail(name, "the command line is " + std::to_string(cmdline.size()) + " bytes; vmxsim passes at most " +
                       std::to_string(kEbdaStart - cmdline_addr - 1));
    KernelArguments a{cmdline_addr, std::vector<uint8_t>(cmdline.begin(), cmdline.end()), {}};
    a.cmdline.push_back(0);
    a.initrd = place_initrd(initrds, name, initrd_bottom, initrd_top);
    return a;
}

void KernelArguments::add_chunks(std::vector<Chunk>& chunks) const {
    chunks.push_back({cmdline_addr, cmdline.size(), cmdline.data(), cmdline.size(), "command line"});
    if (!initrd.data.empty())
        chunks.push_back({initrd.paddr, initrd.data.size(), initrd.data.data(), initrd.data.size(), "initrd"});
}

bool is_linux_bzimage(const std::vector<uint8_t>& f) {
    return f.size() >= sh::kHeader + 4 && get_le16(&f[sh::kBootFlag]) == 0xAA55 &&
           get_le32(&f[sh::kHeader]) == kHdrSMagic;
}

BootInfo load_linux_bzimage(const std::vector<uint8_t>& f, const std::string& name, const std::string& cmdline,
                            const std::vector<Module>& initrds, GuestMemory& mem) {
    const uint64_t ram = mem.ram_size();
    const uint64_t low_ram_end = std::min(ram, kLowRamLimit);
    // The setup header ends where the jump at 0x200 lands (boot.rst: "the end of the setup
    // header can be calculated as 0x0202 + the byte value at offset 0x0201"); it must lie in
    // the file and before the zero page's e820 table.
    const uint64_t header_end = sh::kHeader + f.at(sh::kJump + 1);
    if (header_end > f.size()) fail(name, "Linux setup header runs past the end of the file");
    const uint16_t version = get_le16(&f[sh::kVersion]);
    if (version < kMinProtocol)
        fail(name, "Linux boot protocol " + protocol_str(version) + " is older than " + protocol_str(kMinProtocol) +
                       " (Linux 2.6.22); vmxsim loads bzImages of newer kernels");
    // Protocol 2.06 ends with cmdline_size, 2.10 added pref_address and init_size.
    const uint64_t header_needed = version >= 0x020a ? sh::kInitSize + 4 : sh::kCmdlineSize + 4;
    if (header_end > zero_page::kE820Table || header_end < header_needed)
        fail(name, "Linux setup header of " + hex(header_end - sh::kSetupSects) + " bytes is implausible for protocol " +
                       protocol_str(version));
    if (!(f[sh::kLoadflags] & kLoadedHigh))
        fail(name, "a zImage (loaded below 1 MiB) is not supported; build a bzImage");

    const unsigned setup_sects = f[sh::kSetupSects] ? f[sh::kSetupSects] : 4;  // 0 means 4 (boot.rst)
    const uint64_t setup_size = uint64_t(setup_sects + 1) * 512;
    if (setup_size >= f.size())
        fail(name, "the real-mode setup (" + std::to_string(setup_sects) + " sectors) covers the whole file: no kernel");
    const uint64_t kernel_len = f.size() - setup_size;

    // A relocatable kernel is loaded at its preferred address, which spares the decompressor a
    // move; others at 1 MiB, where their 32-bit entry expects them.
    const bool relocatable = f[sh::kRelocatableKernel] != 0;
    const uint32_t alignment = get_le32(&f[sh::kKernelAlignment]);
    uint64_t load_addr = kHighLoadAddr;
    if (version >= 0x020a && relocatable) {
        const uint64_t pref = get_le64(&f[sh::kPrefAddress]);
        const bool aligned = alignment == 0 || (alignment & (alignment - 1)) != 0 || pref % alignment == 0;
        if (pref >= kHighLoadAddr && aligned && pref < low_ram_end) load_addr = pref;
    }
    // init_size: the memory the kernel needs from its load address to decompress and start.
    const uint64_t init_size = version >= 0x020a ? get_le32(&f[sh::kInitSize]) : 0;
    const uint64_t image_len = std::max(kernel_len, init_size);
    if (load_addr + image_len > low_ram_end)
        fail(name, "the kernel needs " + hex(image_len) + " bytes from " + hex(load_addr) + " to decompress; " +
                       "give the machine at least " + std::to_string((load_addr + image_len + kMiB - 1) / kMiB + 16) +
                       " MiB (-m)");

    const uint32_t cmdline_size = get_le32(&f[sh::kCmdlineSize]);
    if (cmdline.size() > cmdline_size)
        fail(name, "the command line is " + std::to_string(cmdline.size()) + " bytes; this kernel takes at most " +
                       std::to_string(cmdline_size));
    const uint64_t top = std::min<uint64_t>(uint64_t(get_le32(&f[sh::kInitrdAddrMax])) + 1, low_ram_end);
    const KernelArguments args =
        kernel_arguments(name, cmdline, kCmdlineAddr, initrds, page_align_up(load_addr + image_len), top);
    const Initrd& initrd = args.initrd;

    std::vector<uint8_t> zp(zero_page::kSize, 0);
    std::copy(f.begin() + sh::kSetupSects, f.begin() + header_end, zp.begin() + sh::kSetupSects);
    put_le16(&zp[sh::kVidMode], 0xffff);  // "normal" text mode: no mode switch was asked for
    zp[sh::kTypeOfLoader] = kTypeOfLoaderUndefined;
    zp[sh::kLoadflags] &= uint8_t(~0x80);  // CAN_USE_HEAP: no real-mode setup ran, no heap
    put_le32(&zp[sh::kCode32Start], uint32_t(load_addr));
    put_le32(&zp[sh::kRamdiskImage], uint32_t(initrd.paddr));
    put_le32(&zp[sh::kRamdiskSize], uint32_t(initrd.data.size()));
    put_le32(&zp[sh::kCmdLinePtr], uint32_t(kCmdlineAddr));
    put_e820(zp.data(), ram);

    std::vector<Chunk> chunks;
    chunks.push_back({load_addr, kernel_len, f.data() + setup_size, kernel_len, "protected-mode kernel"});
    chunks.push_back({kZeroPageAddr, zp.size(), zp.data(), zp.size(), "zero page"});
    args.add_chunks(chunks);
    write_chunks(mem, chunks, name);

    BootInfo bi{};
    bi.kind = BootInfo::Kind::LinuxBzImage;
    bi.entry = load_addr;
    bi.eax = bi.ebx = 0;
    bi.esi = uint32_t(kZeroPageAddr);
    bi.image_start = load_addr;
    bi.image_end = load_addr + image_len;
    bi.first_free = page_align_up(bi.image_end);
    bi.notes.push_back("Linux boot protocol " + protocol_str(version) + ", kernel at " + hex(load_addr) +
                       (initrd.data.empty() ? std::string() : ", initrd at " + hex(initrd.paddr)));
    return bi;
}

}  // namespace vmxsim::loader::detail
