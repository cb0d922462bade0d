//! Just enough CRC-32 algebra for the search past damage to check any
//! candidate's checksum without hashing its bytes again.
//!
//! CRC-32 is a remainder of polynomial division over GF(2), and appending
//! bytes to a message acts linearly on its CRC: for messages `A` and `B`,
//!
//! ```text
//! crc(A ‖ B) = shift(crc(A), |B|) ⊕ crc(B)
//! ```
//!
//! where `shift(c, n)` multiplies `c` by `x^(8n)` modulo the CRC polynomial.
//! So with `C(x)` the CRC of a file's bytes up to offset `x`, the CRC of the
//! bytes from `x` to `y` is `C(y) ⊕ shift(C(x), y − x)`: one multiplication
//! instead of `y − x` bytes of hashing.
//!
//! Polynomials are 32-bit words in CRC-32's reflected bit order (the
//! coefficient of `x^0` is the top bit), the order `crc32fast` computes in.

/// The CRC-32 (IEEE) polynomial, reflected.
const POLY: u32 = 0xEDB8_8320;

/// `x^0`, the polynomial 1, in reflected order.
const ONE: u32 = 1 << 31;

/// `a · b mod POLY`.
pub(crate) fn multiply(a: u32, mut b: u32) -> u32 {
    let mut product = 0;
    // Bits of `a` from the coefficient of x^0 down to that of x^31, while
    // `b` is multiplied by x at each step.
    let mut bit = ONE;
    while bit != 0 {
        if a & bit != 0 {
            product ^= b;
        }
        b = if b & 1 != 0 { (b >> 1) ^ POLY } else { b >> 1 };
        bit >>= 1;
    }
    product
}

/// Multiplies CRCs by `x^(8n)`: the effect of `n` more bytes on a CRC.
///
/// Holds `x^(8·d·256^i)` for each byte `d` of a 32-bit `n` at each position
/// `i`, so a shift is at most five multiplications whatever `n` is.
pub(crate) struct Shifter {
    tables: Box<[[u32; 256]; 4]>,
}

impl Shifter {
    /// The tables, built once per process (a thousand multiplications).
    pub(crate) fn get() -> &'static Shifter {
        static SHIFTER: std::sync::OnceLock<Shifter> = std::sync::OnceLock::new();
        SHIFTER.get_or_init(Shifter::new)
    }

    fn new() -> Self {
        let mut tables = Box::new([[ONE; 256]; 4]);
        // x^8: one byte.
        let mut unit = ONE >> 8;
        for table in tables.iter_mut() {
            for d in 1..256 {
                table[d] = multiply(table[d - 1], unit);
            }
            // x^(8·256^(i+1)) = (x^(8·256^i))^256.
            unit = multiply(table[255], unit);
        }
        Shifter { tables }
    }

    /// The CRC `crc` would have after `n` more bytes, less their own CRC:
    /// `crc · x^(8n) mod POLY`.
    #[cfg(test)]
    pub(crate) fn shift(&self, crc: u32, n: u64) -> u32 {
        multiply(self.factor(n), crc)
    }

    /// `x^(8n) mod POLY`: what [`Shifter::shift`] multiplies by.
    pub(crate) fn factor(&self, n: u64) -> u32 {
        let n = u32::try_from(n).expect("shifts are by a record's length");
        let mut factor = ONE;
        for (i, table) in self.tables.iter().enumerate() {
            let digit = (n >> (8 * i)) as u8;
            if digit != 0 {
                factor = multiply(factor, table[usize::from(digit)]);
            }
        }
        factor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The identity the search relies on, for lengths of every byte width.
    #[test]
    fn the_crc_of_a_range_follows_from_the_crcs_of_its_prefixes() {
        let data: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let shifter = Shifter::new();
        for (from, to) in [(0, 0), (0, 1), (3, 300), (17, 256 + 17), (100, 70_000)] {
            let prefix_from = crc32fast::hash(&data[..from]);
            let prefix_to = crc32fast::hash(&data[..to]);
            let range = crc32fast::hash(&data[from..to]);
            assert_eq!(
                prefix_to ^ shifter.shift(prefix_from, (to - from) as u64),
                range,
                "bytes {from}..{to}"
            );
        }
    }

    #[test]
    fn shifting_by_nothing_changes_nothing() {
        assert_eq!(Shifter::new().shift(0x1234_5678, 0), 0x1234_5678);
        assert_eq!(multiply(ONE, 0xDEAD_BEEF), 0xDEAD_BEEF);
    }
}
