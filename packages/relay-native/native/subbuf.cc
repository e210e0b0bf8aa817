#include "subbuf.h"

namespace twrn {

namespace {
// Record header: a 32-bit word holding type_len (5 bits) and time_delta (27 bits). On
// little-endian type_len is the low 5 bits, on big-endian the high 5 bits (bitfield order).
inline void split_header(uint32_t word, uint32_t* type_len, uint32_t* delta) {
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  *type_len = word >> 27;
  *delta = word & ((1u << 27) - 1);
#else
  *type_len = word & 31u;
  *delta = word >> 5;
#endif
}
inline uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
constexpr uint32_t kTypePadding = 29;
constexpr uint32_t kTypeTimeExtend = 30;
constexpr uint32_t kTypeTimeStamp = 31;
constexpr unsigned kTsShift = 27;
constexpr uint64_t kTsMsb = 0xf8ull << 56;
}  // namespace

uint64_t advance_timestamp(const uint8_t* data, size_t from, size_t to, uint64_t ts) {
  size_t pos = from;
  while (pos + 4 <= to) {
    uint32_t type_len, delta;
    split_header(load_u32(data + pos), &type_len, &delta);
    size_t len;
    if (type_len == 0) {
      // length in the next u32, counting itself
      if (pos + 8 > to) break;
      len = 4 + static_cast<size_t>(load_u32(data + pos + 4));
      ts += delta;
    } else if (type_len <= 28) {
      len = 4 + 4 * static_cast<size_t>(type_len);
      ts += delta;
    } else if (type_len == kTypePadding) {
      if (delta == 0) break;  // end of the page's data
      if (pos + 8 > to) break;
      len = 4 + static_cast<size_t>(load_u32(data + pos + 4));
    } else if (type_len == kTypeTimeExtend) {
      if (pos + 8 > to) break;
      ts += (static_cast<uint64_t>(load_u32(data + pos + 4)) << kTsShift) | delta;
      len = 8;
    } else {  // kTypeTimeStamp: absolute, 59 bits
      if (pos + 8 > to) break;
      uint64_t abs = (static_cast<uint64_t>(load_u32(data + pos + 4)) << kTsShift) | delta;
      if (ts & kTsMsb) {
        uint64_t fixed = abs | (ts & kTsMsb);
        if (fixed < ts) fixed += 1ull << 59;
        abs = fixed;
      }
      ts = abs;
      len = 8;
    }
    if (len < 4 || pos + len > to) break;
    pos += len;
  }
  static_assert(kTypeTimeStamp == 31, "type_len values");
  return ts;
}

}  // namespace twrn
