//! CRC-32 (ISO-HDLC: reflected polynomial 0xEDB88320, as ZIP and gzip
//! use), for the streamed ZIPs of `http::zip`.
//!
//! Two ways, one result: slice-by-16 tables built at compile time, on
//! every CPU and for short inputs; and on x86_64 CPUs with `PCLMULQDQ`
//! and SSE4.1 (checked at run time), the folding by carry-less
//! multiplication of Intel's "Fast CRC Computation for Generic
//! Polynomials Using PCLMULQDQ Instruction" (2009): about 14 GB/s on
//! one core of the bench machine, against 2.4 GB/s for the tables.
//! The folding is the only `unsafe` of the crate outside `src/sys.rs`:
//! one call, after the CPU check; the instructions need no pointer
//! (blocks are loaded from byte arrays).

/// Inputs from this length on take the folding (it needs four blocks
/// of 16 bytes, and its final reduction costs about one table step
/// per byte of a short input).
#[cfg(target_arch = "x86_64")]
const FOLD_FROM: usize = 256;

/// The sixteen CRC-32 tables (reflected polynomial 0xEDB88320): table
/// `s` advances a byte through `s` more zero bytes, so sixteen bytes
/// are folded in with sixteen lookups and no carried dependency.
const TABLES: [[u32; 256]; 16] = tables();

const fn tables() -> [[u32; 256]; 16] {
    let mut t = [[0u32; 256]; 16];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 16 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            s += 1;
        }
        i += 1;
    }
    t
}

/// A running CRC-32 (ISO-HDLC, as ZIP and gzip use). Public for the
/// benchmark, which times it beside the ZIP it is streamed with.
#[derive(Clone, Copy, Debug, Default)]
pub struct Crc32(u32);

impl Crc32 {
    /// Adds `data` to the checksum: by carry-less multiplication where
    /// the CPU has it and `data` is long enough, else with the tables.
    pub fn update(&mut self, data: &[u8]) {
        #[cfg(target_arch = "x86_64")]
        if data.len() >= FOLD_FROM && fold::available() {
            let (blocks, tail) = data.as_chunks::<16>();
            // SAFETY: the CPU has PCLMULQDQ and SSE4.1 (checked just
            // above), the only features `fold::fold` is compiled for.
            self.0 = unsafe { fold::fold(self.0, blocks) };
            return self.table(tail);
        }
        self.table(data)
    }

    /// Slice-by-16: 1.2 to 1.6 times the speed of slice-by-8 (see
    /// docs/BENCHMARKS.md).
    fn table(&mut self, data: &[u8]) {
        let mut c = !self.0;
        let mut chunks = data.chunks_exact(16);
        for b in &mut chunks {
            let lo = c ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let mut x = TABLES[15][(lo & 0xff) as usize]
                ^ TABLES[14][((lo >> 8) & 0xff) as usize]
                ^ TABLES[13][((lo >> 16) & 0xff) as usize]
                ^ TABLES[12][(lo >> 24) as usize];
            for (k, &byte) in b[4..].iter().enumerate() {
                x ^= TABLES[11 - k][byte as usize];
            }
            c = x;
        }
        for &b in chunks.remainder() {
            c = (c >> 8) ^ TABLES[0][((c ^ u32::from(b)) & 0xff) as usize];
        }
        self.0 = !c;
    }

    /// The checksum of everything added so far.
    pub fn value(&self) -> u32 {
        self.0
    }
}

/// The folding: four 128-bit lanes fold 64 bytes per step, then one
/// lane, then a Barrett reduction to 32 bits (the constants are powers
/// of x modulo the polynomial, bit-reflected, as in the paper).
#[cfg(target_arch = "x86_64")]
mod fold {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_clmulepi64_si128, _mm_cvtsi32_si128, _mm_extract_epi32, _mm_set_epi32,
        _mm_set_epi64x, _mm_srli_si128, _mm_xor_si128,
    };

    /// x^(4*128+32) and x^(4*128-32) mod P: folding by four lanes.
    const K1: i64 = 0x1_5444_2bd4;
    const K2: i64 = 0x1_c6e4_1596;
    /// x^(128+32) and x^(128-32) mod P: folding by one lane.
    const K3: i64 = 0x1_7519_97d0;
    const K4: i64 = 0x0_ccaa_009e;
    /// x^64 mod P: 128 bits to 64.
    const K5: i64 = 0x1_63cd_6124;
    /// P itself and mu = x^64 / P, for the Barrett reduction.
    const P: i64 = 0x1_db71_0641;
    const MU: i64 = 0x1_f701_1641;

    /// Whether this CPU can fold (the check is cached by std).
    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("pclmulqdq") && std::arch::is_x86_feature_detected!("sse4.1")
    }

    /// The CRC (`crc` finished, as `Crc32` keeps it) continued over
    /// `blocks`, at least four of them.
    #[target_feature(enable = "pclmulqdq,sse4.1")]
    pub(super) fn fold(crc: u32, blocks: &[[u8; 16]]) -> u32 {
        let (first, rest) = blocks.split_at(4);
        let mut lanes = [load(&first[0]), load(&first[1]), load(&first[2]), load(&first[3])];
        lanes[0] = _mm_xor_si128(lanes[0], _mm_cvtsi32_si128(!crc as i32));
        let (fours, ones) = rest.as_chunks::<4>();
        let k1k2 = _mm_set_epi64x(K2, K1);
        for four in fours {
            for (lane, block) in lanes.iter_mut().zip(four) {
                *lane = reduce(*lane, load(block), k1k2);
            }
        }
        let k3k4 = _mm_set_epi64x(K4, K3);
        let mut x = reduce(lanes[0], lanes[1], k3k4);
        x = reduce(x, lanes[2], k3k4);
        x = reduce(x, lanes[3], k3k4);
        for block in ones {
            x = reduce(x, load(block), k3k4);
        }
        let low32 = _mm_set_epi32(0, 0, 0, !0);
        let x = _mm_xor_si128(_mm_clmulepi64_si128::<0x10>(x, k3k4), _mm_srli_si128::<8>(x));
        let x = _mm_xor_si128(
            _mm_clmulepi64_si128::<0x00>(_mm_and_si128(x, low32), _mm_set_epi64x(0, K5)),
            _mm_srli_si128::<4>(x),
        );
        let pmu = _mm_set_epi64x(MU, P);
        let t1 = _mm_clmulepi64_si128::<0x10>(_mm_and_si128(x, low32), pmu);
        let t2 = _mm_clmulepi64_si128::<0x00>(_mm_and_si128(t1, low32), pmu);
        !(_mm_extract_epi32::<1>(_mm_xor_si128(x, t2)) as u32)
    }

    /// `b` xor `a` carried 128 bits further (by the two halves of `keys`).
    #[target_feature(enable = "pclmulqdq,sse4.1")]
    fn reduce(a: __m128i, b: __m128i, keys: __m128i) -> __m128i {
        let t1 = _mm_clmulepi64_si128::<0x00>(a, keys);
        let t2 = _mm_clmulepi64_si128::<0x11>(a, keys);
        _mm_xor_si128(_mm_xor_si128(b, t1), t2)
    }

    #[target_feature(enable = "pclmulqdq,sse4.1")]
    fn load(block: &[u8; 16]) -> __m128i {
        let v = u128::from_le_bytes(*block);
        _mm_set_epi64x((v >> 64) as i64, v as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_known_values() {
        let crc = |data: &[u8]| {
            let mut c = Crc32::default();
            c.update(data);
            c.value()
        };
        assert_eq!(crc(b""), 0);
        assert_eq!(crc(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc(b"The quick brown fox jumps over the lazy dog"), 0x414F_A339);
        let long: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let mut split = Crc32::default();
        for piece in long.chunks(333) {
            split.update(piece);
        }
        assert_eq!(split.value(), crc(&long), "pieces and whole agree");
        let mut bitwise = 0xFFFF_FFFFu32;
        for &b in &long {
            bitwise ^= u32::from(b);
            for _ in 0..8 {
                bitwise = if bitwise & 1 != 0 { 0xEDB8_8320 ^ (bitwise >> 1) } else { bitwise >> 1 };
            }
        }
        assert_eq!(!bitwise, crc(&long), "slice-by-16 agrees with the bitwise definition");
    }

    #[test]
    fn the_two_ways_agree_at_every_length_and_split() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
        for len in (0..600).chain([1023, 1024, 1025, 4096, 4999]) {
            let mut tables = Crc32::default();
            tables.table(&data[..len]);
            let mut whole = Crc32::default();
            whole.update(&data[..len]);
            assert_eq!(whole.value(), tables.value(), "length {len}");
            let mut split = Crc32::default();
            split.update(&data[..len / 3]);
            split.update(&data[len / 3..len]);
            assert_eq!(split.value(), tables.value(), "length {len} in two");
        }
    }
}
