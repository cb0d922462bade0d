use std::io::Cursor;

use proptest::prelude::*;

use super::*;
use crate::format::{LogFormat, encode_into};

/// The log searched: its checksums are seeded with its identity, so
/// the search's CRC algebra must fold the seed in.
const OURS: LogFormat = LogFormat::V2 { id: 0x5eed };
/// Another log, whose records must never count.
const FOREIGN: LogFormat = LogFormat::V2 { id: 0xf0e1 };

/// A readable record or batch at `at`, checked the slow, obvious way:
/// its length, first and last LSN, and record count.
fn record_at(bytes: &[u8], at: usize) -> Option<(usize, u64, u64, u64)> {
    let header = RecordHeader::parse(bytes.get(at..at + RECORD_HEADER_LEN)?.try_into().ok()?);
    let count = if header.op_code == BATCH_OP {
        u64::from(header.key_len)
    } else {
        1
    };
    if header.size_problem().is_some() {
        return None;
    }
    if header.op_code != BATCH_OP {
        let op = Op::from_code(header.op_code)?;
        if op == Op::Delete && header.value_len != 0 {
            return None;
        }
    }
    let last = header.lsn.checked_add(count - 1)?;
    let len = header.record_len() as usize;
    let record = bytes.get(at..at + len)?;
    (OURS.record_crc(&record[4..]) == header.crc).then_some((len, header.lsn, last, count))
}

/// The search as first written: try every offset, checksum every
/// plausible candidate, follow chains of consecutive LSNs.
fn reference(bytes: &[u8], damage: usize, mut last_lsn: u64) -> Found {
    let mut found = Found {
        records: 0,
        first_offset: None,
        last_lsn,
    };
    let mut at = damage;
    while at + RECORD_HEADER_LEN <= bytes.len() {
        match record_at(bytes, at) {
            Some((len, first, last, count)) if first > last_lsn => {
                found.first_offset.get_or_insert(at as u64);
                let (mut end, mut last) = (at + len, last);
                found.records += count;
                while let Some((len, first, next_last, count)) = record_at(bytes, end) {
                    if Some(first) != last.checked_add(1) {
                        break;
                    }
                    found.records += count;
                    (end, last) = (end + len, next_last);
                }
                (at, last_lsn) = (end, last);
            }
            _ => at += 1,
        }
    }
    found.last_lsn = last_lsn;
    found
}

fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // A record with an LSN near the others, so chains form.
        // (Now and then one from another log, with the same LSNs.)
        (0u64..8, 0usize..6, 0usize..40, any::<bool>(), 0u8..8).prop_map(
            |(lsn, key, value, del, log)| {
                let mut out = Vec::new();
                let (op, value) = if del {
                    (Op::Delete, 0)
                } else {
                    (Op::Put, value)
                };
                let crc = if log == 0 { FOREIGN } else { OURS }.crc();
                encode_into(
                    &mut out,
                    &crc,
                    lsn,
                    op,
                    &vec![b'k'; key],
                    &vec![b'v'; value],
                );
                out
            }
        ),
        // Garbage, zeros, and bytes that look like headers.
        proptest::collection::vec(any::<u8>(), 0..30),
        proptest::collection::vec(0u8..3, 0..40),
        // A batch of a few records.
        (0u64..8, 1usize..4, any::<bool>()).prop_map(|(lsn, n, del)| {
            let records: Vec<_> = (0..n as u64)
                .map(|i| crate::Record {
                    lsn: lsn + i,
                    op: if del && i == 0 { Op::Delete } else { Op::Put },
                    key: vec![b'b'; i as usize],
                    value: if del && i == 0 {
                        Vec::new()
                    } else {
                        vec![1; 3]
                    },
                })
                .collect();
            crate::format::encode_batch(&records, OURS)
        }),
        (0u64..u64::MAX).prop_map(|lsn| {
            let mut out = Vec::new();
            encode_into(&mut out, &OURS.crc(), lsn, Op::Put, b"", b"x");
            out
        }),
    ]
}

/// The header of a put record at `lsn` with an empty key and `value_len`
/// bytes of value, and a checksum that does not hold.
fn claims(lsn: u64, value_len: u32) -> Vec<u8> {
    let mut header = vec![0xAB; 4];
    header.extend_from_slice(&lsn.to_le_bytes());
    header.push(Op::Put.code());
    header.extend_from_slice(&0u32.to_le_bytes());
    header.extend_from_slice(&value_len.to_le_bytes());
    header
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The one-pass search finds exactly what checksumming every
    /// candidate finds.
    #[test]
    fn the_one_pass_search_agrees_with_checksumming_every_candidate(
        pieces in proptest::collection::vec(piece(), 0..12),
        damage in 0usize..64,
        last_lsn in 0u64..4,
    ) {
        let bytes = pieces.concat();
        let damage = damage.min(bytes.len());
        let found = readable_after(
            &mut Cursor::new(&bytes),
            bytes.len() as u64,
            damage as u64,
            last_lsn,
            &OURS.crc(),
        )
        .unwrap();
        prop_assert_eq!(found, reference(&bytes, damage, last_lsn));
    }

    /// With a tiny cap on waiting candidates, which makes the search decide
    /// them by reading ahead again and again, it finds exactly what it
    /// finds unbounded (and what checksumming every candidate finds), to the
    /// end or to the first readable record.
    #[test]
    fn a_capped_search_finds_what_an_unbounded_one_finds(
        pieces in proptest::collection::vec(piece(), 0..12),
        long in proptest::collection::vec((0usize..200, 1u32..400), 0..6),
        damage in 0usize..64,
        last_lsn in 0u64..4,
        cap in 1usize..4,
    ) {
        let mut bytes = pieces.concat();
        // Headers claiming long records over the others: many candidates
        // wait at once.
        for (at, value_len) in long {
            let header = claims(last_lsn + 1, value_len);
            if at + header.len() <= bytes.len() {
                bytes[at..at + header.len()].copy_from_slice(&header);
            }
        }
        let damage = damage.min(bytes.len());
        let len = bytes.len() as u64;
        let run = |stop_at_first, cap| {
            search(&mut Cursor::new(&bytes), len, damage as u64, last_lsn, &OURS.crc(), stop_at_first, cap)
                .unwrap()
        };
        let unbounded = run(false, usize::MAX);
        prop_assert_eq!(&unbounded, &reference(&bytes, damage, last_lsn));
        prop_assert_eq!(&run(false, cap), &unbounded);
        prop_assert_eq!(run(true, cap).first_offset, unbounded.first_offset);
    }

    /// Counting chains as the pass goes (whenever every record before
    /// some offset is known) gives what counting them at the end gives.
    #[test]
    fn chains_counted_along_the_way_match_chains_counted_at_the_end(
        records in proptest::collection::vec((1u64..40, 0u64..12), 0..30),
        steps in proptest::collection::vec(0u64..200, 0..30),
        last_lsn in 0u64..4,
    ) {
        // Records back to back (some pieces of the file hold none).
        let mut offset = 0;
        let mut laid = Vec::new();
        for (len, lsn) in records {
            if lsn % 5 != 4 {
                laid.push((offset, len, lsn));
            }
            offset += len;
        }
        let mut at_end = Chains::new(0, last_lsn);
        for &(offset, len, lsn) in &laid {
            at_end.add(offset, Readable::new(len, lsn, 1));
        }
        let mut along = Chains::new(0, last_lsn);
        let mut added = 0;
        let mut known = 0;
        for step in steps {
            known += step;
            // Everything starting before `known` must have been found.
            while added < laid.len() && laid[added].0 < known {
                let (offset, len, lsn) = laid[added];
                along.add(offset, Readable::new(len, lsn, 1));
                added += 1;
            }
            along.advance(known);
        }
        for &(offset, len, lsn) in &laid[added..] {
            along.add(offset, Readable::new(len, lsn, 1));
        }
        prop_assert_eq!(along.finish(), at_end.finish());
    }
}
