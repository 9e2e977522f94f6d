// Philox-4x32-10, the counter-based generator behind random_uniform (and so
// dropout and Bernoulli masks): Salmon et al., "Parallel random numbers: as
// easy as 1, 2, 3" (SC 2011). A random number is a pure function of its
// position, so every backend and every thread split draws the same bits.
//
// The numbers kiln draws. Element i of a random_uniform node with
// attributes `seed` and `stream` and counter input `step` (64-bit values,
// taken as two's-complement bits) is word i % 4 of
//   Philox4x32-10(counter = (g mod 2^32, g >> 32, step mod 2^32, stream),
//                 key     = (seed mod 2^32, (seed >> 32) ^ (step >> 32)))
// where g = i / 4 (row-major element index), mapped to [0, 1) as
//   (word >> 8) * 2^-24        (24 random bits, exact in f32).
//
//   PhiloxBlock b = PhiloxBlockFor(/*seed=*/7, /*stream=*/0, /*step=*/3, /*group=*/0);
//   float u0 = PhiloxUnitFloat(Philox4x32x10(b)[0]);  // element 0 of that node
#ifndef KILN_OPS_PHILOX_H_
#define KILN_OPS_PHILOX_H_

#include <array>
#include <cstdint>

namespace kiln {

// Round multipliers and key increments (the Weyl sequence) of Philox-4x32.
inline constexpr uint32_t kPhiloxM0 = 0xD2511F53u;
inline constexpr uint32_t kPhiloxM1 = 0xCD9E8D57u;
inline constexpr uint32_t kPhiloxW0 = 0x9E3779B9u;
inline constexpr uint32_t kPhiloxW1 = 0xBB67AE85u;
inline constexpr int kPhiloxRounds = 10;

struct PhiloxBlock {
  std::array<uint32_t, 4> counter;
  std::array<uint32_t, 2> key;
};

// Counter and key of element group `group` (elements 4g .. 4g+3).
inline PhiloxBlock PhiloxBlockFor(int64_t seed, int64_t stream, int64_t step,
                                  uint64_t group) {
  const uint64_t s = static_cast<uint64_t>(seed);
  const uint64_t t = static_cast<uint64_t>(step);
  return {{static_cast<uint32_t>(group), static_cast<uint32_t>(group >> 32),
           static_cast<uint32_t>(t), static_cast<uint32_t>(stream)},
          {static_cast<uint32_t>(s), static_cast<uint32_t>((s >> 32) ^ (t >> 32))}};
}

// A 32-bit word as a float in [0, 1): its top 24 bits times 2^-24.
inline float PhiloxUnitFloat(uint32_t word) {
  return static_cast<float>(word >> 8) * (1.0f / 16777216.0f);
}

// The four output words of one block, scalar. The rounds are written once,
// in ops/philox-inl.h, for scalars and Highway vectors alike.
std::array<uint32_t, 4> Philox4x32x10(const PhiloxBlock& block);

}  // namespace kiln

#endif  // KILN_OPS_PHILOX_H_
