//! Text as Vietnamese users type it.
//!
//! The same name typed with two input methods (Telex with precomposed
//! characters, or a keyboard that sends combining marks) must be stored and
//! compared as one string: everything we store goes through [`clean`] (Unicode
//! NFC, trimmed, inner whitespace collapsed). Lists of people sort the
//! Vietnamese way, by given name (the last word) first, then the rest, with the
//! Vietnamese alphabet (a ă â b c d đ e ê …) and the traditional tone order
//! (ngang, huyền, hỏi, ngã, sắc, nặng) as a secondary key.

use std::cmp::Ordering;
use unicode_normalization::UnicodeNormalization;

/// NFC, trimmed, with runs of whitespace collapsed to one space.
pub fn clean(s: &str) -> String {
    let nfc: String = s.nfc().collect();
    nfc.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A few short lines (an organisation under its governing body): each line
/// as [`clean`] makes it, empty lines dropped.
pub fn clean_lines(s: &str) -> String {
    s.lines().map(clean).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n")
}

/// `s` in NFC and nothing else changed: a password typed with combining
/// marks (some Vietnamese keyboards) and one typed precomposed are the same.
pub fn nfc(s: &str) -> String {
    s.nfc().collect()
}

/// Multi-line text (summaries, notes): NFC, trailing spaces removed, lines kept.
pub fn clean_multiline(s: &str) -> String {
    let nfc: String = s.nfc().collect();
    let lines: Vec<&str> = nfc.lines().map(str::trim_end).collect();
    lines.join("\n").trim().to_string()
}

/// A Unicode noncharacter (U+FDD0–U+FDEF, and the last two of each plane,
/// U+FFFE, U+FFFF, …): no XML may hold one.
pub fn is_noncharacter(c: char) -> bool {
    let c = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&c) || c & 0xFFFE == 0xFFFE
}

/// The collation key of one word or phrase: primary letters, then tones.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Collation {
    letters: Vec<u32>,
    tones: Vec<u8>,
}

// Letter modifiers, ordered as the Vietnamese alphabet orders them:
// a < ă < â, e < ê, o < ô < ơ, u < ư, d < đ.
const MOD_BREVE: u32 = 1;
const MOD_CIRCUMFLEX: u32 = 2;
const MOD_HORN: u32 = 3;
const MOD_STROKE: u32 = 4;

fn tone_of(mark: char) -> Option<u8> {
    // ngang (none) = 0, huyền, hỏi, ngã, sắc, nặng.
    match mark {
        '\u{0300}' => Some(1),
        '\u{0309}' => Some(2),
        '\u{0303}' => Some(3),
        '\u{0301}' => Some(4),
        '\u{0323}' => Some(5),
        _ => None,
    }
}

fn collation(s: &str) -> Collation {
    let mut letters: Vec<u32> = Vec::new();
    let mut tones = Vec::new();
    for c in s.nfd() {
        let modifier = match c {
            '\u{0306}' => Some(MOD_BREVE),
            '\u{0302}' => Some(MOD_CIRCUMFLEX),
            '\u{031B}' => Some(MOD_HORN),
            _ => None,
        };
        if let Some(m) = modifier {
            if let Some(last) = letters.last_mut() {
                *last += m;
            }
            continue;
        }
        if let Some(t) = tone_of(c) {
            if let Some(last) = tones.last_mut() {
                *last = t;
            }
            continue;
        }
        if c.is_whitespace() {
            letters.push(0);
            tones.push(0);
            continue;
        }
        let (base, extra) = match c {
            'đ' | 'Đ' => ('d', MOD_STROKE),
            _ => (c, 0),
        };
        let lower = base.to_lowercase().next().unwrap_or(base);
        letters.push((lower as u32) * 8 + extra);
        tones.push(0);
    }
    Collation { letters, tones }
}

/// Splits a full Vietnamese name into (given name, the rest).
fn split_name(full: &str) -> (&str, &str) {
    let full = full.trim();
    match full.rfind(char::is_whitespace) {
        Some(i) => (full[i..].trim(), full[..i].trim()),
        None => (full, ""),
    }
}

/// Compares two full names the Vietnamese way: given name first, then the
/// family and middle names; letters before tones.
pub fn compare_names(a: &str, b: &str) -> Ordering {
    let (ga, ra) = split_name(a);
    let (gb, rb) = split_name(b);
    let (cga, cra, cgb, crb) = (collation(ga), collation(ra), collation(gb), collation(rb));
    cga.letters
        .cmp(&cgb.letters)
        .then_with(|| cga.tones.cmp(&cgb.tones))
        .then_with(|| cra.letters.cmp(&crb.letters))
        .then_with(|| cra.tones.cmp(&crb.tones))
        .then_with(|| clean(a).cmp(&clean(b)))
}

/// True when two strings are the same text once normalised (NFC, spaces).
pub fn same_text(a: &str, b: &str) -> bool {
    clean(a) == clean(b)
}

/// A number with `decimals` places, as Vietnamese writes it (a decimal
/// comma, a dot between thousands: "1.234,5") or, with `vietnamese` false,
/// as English does ("1,234.5").
pub fn number(value: f64, decimals: usize, vietnamese: bool) -> String {
    let plain = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = plain.split_once('.').unwrap_or((&plain, ""));
    let (group, point) = if vietnamese { ('.', ',') } else { (',', '.') };
    let mut out = String::new();
    if value < 0.0 && plain.bytes().any(|c| c.is_ascii_digit() && c != b'0') {
        out.push('-');
    }
    for (n, c) in whole.chars().enumerate() {
        if n > 0 && (whole.len() - n) % 3 == 0 {
            out.push(group);
        }
        out.push(c);
    }
    if !fraction.is_empty() {
        out.push(point);
        out.push_str(fraction);
    }
    out
}

/// An ASCII slug of a Vietnamese text ("Phòng họp số 1" → "phong-hop-so-1").
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.nfd() {
        let c = match c {
            'đ' => 'd',
            'Đ' => 'd',
            c => c,
        };
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if (c.is_whitespace() || c == '-' || c == '_' || c == '.') && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_each_language_writes_them() {
        assert_eq!(number(57.142_857, 2, true), "57,14");
        assert_eq!(number(57.142_857, 2, false), "57.14");
        assert_eq!(number(1_234_567.0, 0, true), "1.234.567");
        assert_eq!(number(1_234_567.25, 1, false), "1,234,567.2");
        assert_eq!(number(20_480.0, 0, true), "20.480");
        assert_eq!(number(999.0, 0, true), "999");
        assert_eq!(number(0.0, 1, true), "0,0");
        assert_eq!(number(-1500.5, 1, true), "-1.500,5");
        assert_eq!(number(-0.001, 1, true), "0,0", "no minus before a zero");
    }

    #[test]
    fn nfc_makes_two_input_methods_equal() {
        let precomposed = "Nguyễn Văn Đức";
        let combining = "Nguye\u{0302}\u{0303}n Va\u{0306}n \u{0110}u\u{031B}\u{0301}c";
        assert_ne!(precomposed, combining);
        assert!(same_text(precomposed, combining));
        assert_eq!(clean(combining), precomposed);
    }

    #[test]
    fn clean_trims_and_collapses_spaces() {
        assert_eq!(clean("  Trần   Thị\tBình \n"), "Trần Thị Bình");
        assert_eq!(clean_multiline("  dòng 1  \n dòng 2 \n\n"), "dòng 1\n dòng 2");
    }

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        v.sort_by(|a, b| compare_names(a, b));
        v
    }

    #[test]
    fn names_sort_by_given_name_first() {
        let v = sorted(&["Trần Văn Bình", "Nguyễn Thị An", "Lê Minh Châu"]);
        assert_eq!(v, ["Nguyễn Thị An", "Trần Văn Bình", "Lê Minh Châu"]);
    }

    #[test]
    fn same_given_name_sorts_by_the_rest() {
        let v = sorted(&["Trần Văn An", "Nguyễn Thị An", "Lê An"]);
        assert_eq!(v, ["Lê An", "Nguyễn Thị An", "Trần Văn An"]);
    }

    #[test]
    fn vietnamese_alphabet_order() {
        // a < ă < â, d < đ, o < ô < ơ, u < ư; plain ASCII order would differ.
        let v = sorted(&["X Đức", "X Dũng", "X Ân", "X Ăn", "X An", "X Ơn", "X Ôn", "X On", "X Ưng", "X Uyên"]);
        assert_eq!(v, ["X An", "X Ăn", "X Ân", "X Dũng", "X Đức", "X On", "X Ôn", "X Ơn", "X Uyên", "X Ưng"]);
    }

    #[test]
    fn tones_are_a_secondary_key() {
        // Letters decide first ("Anh" < "Ánhx"), tones only break ties, in the
        // order ngang, huyền, hỏi, ngã, sắc, nặng.
        let v = sorted(&["B Ạnh", "B Ánh", "B Ãnh", "B Ảnh", "B Ành", "B Anh", "B Ana"]);
        assert_eq!(v, ["B Ana", "B Anh", "B Ành", "B Ảnh", "B Ãnh", "B Ánh", "B Ạnh"]);
    }

    #[test]
    fn sorting_ignores_input_method() {
        let a = "Phạm Thị Hương";
        let b: String = a.nfd().collect();
        assert_eq!(compare_names(a, &b), Ordering::Equal);
    }

    #[test]
    fn case_does_not_change_letter_order() {
        assert_eq!(compare_names("nguyễn văn an", "Trần Bình"), Ordering::Less);
    }

    #[test]
    fn slug_is_ascii() {
        assert_eq!(slug("Phòng họp số 1 — UBND Quận Đống Đa"), "phong-hop-so-1-ubnd-quan-dong-da");
    }
}
