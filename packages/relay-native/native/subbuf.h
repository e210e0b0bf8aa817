// The ring-buffer sub-buffer layout, as far as the reader needs it (mirrors the kernel's
// buffer_data_page and ring_buffer_event framing, libtraceevent's "kbuffer" concepts):
//   u64 time_stamp | local_t commit (8 bytes on 64-bit) | data[commit & ~flags]
// The reader never decodes events. It only walks the record framing of a byte range it
// has already copied, to know the timestamp at a cut point (see advance_timestamp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace twrn {

/** Bytes before the data: the page timestamp and the commit word. */
constexpr size_t kSubbufHeader = 16;
/** Commit flag: events were lost before this sub-buffer (RB_MISSED_EVENTS). */
constexpr uint64_t kMissedEvents = 1ull << 31;
/** Commit flag: the lost count is stored as a u64 right after the data (RB_MISSED_STORED). */
constexpr uint64_t kMissedStored = 1ull << 30;
/** The data length in the commit word. */
constexpr uint64_t kCommitLengthMask = (1ull << 27) - 1;
/** Mask of the commit flags. */
constexpr uint64_t kCommitFlags = kMissedEvents | kMissedStored;

/**
 * The timestamp reached after the records in data[from, to), starting from `ts` (the
 * timestamp the first record's delta is relative to). Time extends add, absolute
 * timestamps replace (keeping the top 5 bits, as the kernel does), padding leaves it.
 * Stops at the end-of-page padding or at a record that would run past `to`.
 */
uint64_t advance_timestamp(const uint8_t* data, size_t from, size_t to, uint64_t ts);

inline uint64_t load_u64(const uint8_t* p) {
  uint64_t v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
inline void store_u64(uint8_t* p, uint64_t v) { __builtin_memcpy(p, &v, sizeof v); }

}  // namespace twrn
