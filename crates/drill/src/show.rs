//! How keys, values and whole states read in a drill's output.
//!
//! Keys print bare (`user:1`), values quoted (`"alice"`), and bytes that are
//! not printable ASCII as escapes, so a transcript is unambiguous and still
//! pastes as plain text.

use std::collections::BTreeMap;

/// A key, bare: `user:1`.
pub fn key(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// A value, quoted: `"alice"`.
pub fn value(bytes: &[u8]) -> String {
    format!("\"{}\"", bytes.escape_ascii())
}

/// What a lookup returned: the quoted value, or `nothing`.
pub fn lookup(found: Option<&[u8]>) -> String {
    found.map_or_else(|| "nothing".to_string(), value)
}

/// A whole key-value state: `{user:1="alicia", user:3="carol"}`.
pub fn state(map: &BTreeMap<Vec<u8>, Vec<u8>>) -> String {
    let pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}={}", key(k), value(v)))
        .collect();
    format!("{{{}}}", pairs.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_bare_values_quoted_odd_bytes_escaped() {
        assert_eq!(key(b"user:1"), "user:1");
        assert_eq!(value(b"alice"), "\"alice\"");
        assert_eq!(value(b"a\"b\n\xff"), r#""a\"b\n\xff""#);
        assert_eq!(lookup(None), "nothing");
        assert_eq!(lookup(Some(b"v")), "\"v\"");
    }

    #[test]
    fn states_list_pairs_in_key_order() {
        let mut map = BTreeMap::new();
        assert_eq!(state(&map), "{}");
        map.insert(b"user:3".to_vec(), b"carol".to_vec());
        map.insert(b"user:1".to_vec(), b"alicia".to_vec());
        assert_eq!(state(&map), r#"{user:1="alicia", user:3="carol"}"#);
    }
}
