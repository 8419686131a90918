//! The minutes (biên bản): sections the secretary writes, the approval path,
//! the signed versions, and the small text format they are typed in.
//!
//! Text format: paragraphs separated by a blank line, list items starting
//! with `- `, and `**bold**`. Nothing else, so every export (DOCX, PDF, the
//! web view) shows exactly what was typed.

use crate::model::*;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Which part of the minutes a text belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "item", rename_all = "snake_case")]
pub enum SectionKey {
    /// Opening remarks, before the agenda.
    Opening,
    /// What was said on one agenda item.
    Item(ItemId),
    /// The chair's conclusion.
    Conclusion,
    /// "Nơi nhận": who receives a copy, one per line ("- Lưu: VT, hồ sơ.").
    Recipients,
    /// A section a later room knows and this copy does not: kept, shown
    /// nowhere, so a state or event naming it still reads (as
    /// [`crate::protocol::Change::Unknown`] does for changes).
    #[serde(other)]
    Unknown,
}

/// Where the minutes are in their life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MinutesStatus {
    /// The secretary is writing.
    #[default]
    Draft,
    /// Sent to the members for comments, per section.
    InReview,
    /// Approved by the chair; ready to sign.
    Approved,
    /// Signed and exported: fixed. A correction is a new version.
    Signed,
}

/// A member's comment on a section, while the minutes are in review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinutesComment {
    pub section: SectionKey,
    pub author: ParticipantId,
    pub text: String,
    pub version: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// One signed export file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedFile {
    /// File name, for example `bien-ban-1-v1-vi.pdf`.
    pub name: String,
    pub sha256: String,
}

/// A signed version of the minutes; kept when a correction follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedVersion {
    pub version: u32,
    /// SHA-256 chain head of the event log the minutes were made from.
    pub log_head: String,
    pub log_seq: u64,
    pub files: Vec<SignedFile>,
    #[serde(with = "time::serde::rfc3339")]
    pub signed_at: OffsetDateTime,
}

/// The minutes of a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minutes {
    /// 1 for the first; each correction after signing adds one.
    pub version: u32,
    pub status: MinutesStatus,
    /// Number and symbol, for example `15/BB-UBND`.
    pub number: String,
    /// The secretary's text per section, each shared: the room copies
    /// its state for every batch of commands and keeps recent states for
    /// followers, so an edit copies pointers to the other sections, not
    /// their text.
    pub sections: Vec<(SectionKey, std::sync::Arc<str>)>,
    pub comments: Vec<MinutesComment>,
    /// Every signed version, the latest last.
    pub signed: Vec<SignedVersion>,
}

impl Default for Minutes {
    fn default() -> Self {
        Minutes { version: 1, status: MinutesStatus::Draft, number: String::new(), sections: vec![], comments: vec![], signed: vec![] }
    }
}

impl Minutes {
    /// The text of a section ("" when none).
    pub fn text(&self, key: SectionKey) -> &str {
        self.sections.iter().find(|(k, _)| *k == key).map(|(_, t)| &**t).unwrap_or("")
    }

    /// Sets a section's text (a new one in key order). Found by a linear
    /// search: sections published by a later room may not be in this
    /// release's order (its own sections read as `Unknown`).
    /// The sections as a change carries them.
    pub fn sections_owned(&self) -> Vec<(SectionKey, String)> {
        self.sections.iter().map(|(k, t)| (*k, t.to_string())).collect()
    }

    pub fn set_text(&mut self, key: SectionKey, text: impl Into<std::sync::Arc<str>>) {
        let text = text.into();
        match self.sections.iter().position(|(k, _)| *k == key) {
            Some(i) => self.sections[i].1 = text,
            None => {
                let at = self.sections.iter().position(|(k, _)| *k > key).unwrap_or(self.sections.len());
                self.sections.insert(at, (key, text));
            }
        }
    }
}

/// A run of text in one style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub bold: bool,
}

/// A block of typed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    Paragraph(Vec<Span>),
    Bullet(Vec<Span>),
}

/// Parses the minutes' text format into blocks: each line a paragraph (as
/// the members read it on their screens, and as text pasted from Word or an
/// e-mail comes: one line per paragraph), a line starting with "- ", "* "
/// or "• " a bullet, `**…**` bold.
pub fn parse_text(text: &str) -> Vec<Block> {
    text.lines()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| match t.strip_prefix("- ").or_else(|| t.strip_prefix("* ")).or_else(|| t.strip_prefix("• ")) {
            Some(item) => Block::Bullet(spans(item.trim())),
            None => Block::Paragraph(spans(t)),
        })
        .collect()
}

/// Splits `**bold**` runs out of a line.
pub fn spans(text: &str) -> Vec<Span> {
    let mut out = vec![];
    for (i, part) in text.split("**").enumerate() {
        if !part.is_empty() {
            out.push(Span { text: part.to_string(), bold: i % 2 == 1 });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_has_paragraphs_lists_and_bold() {
        let blocks = parse_text(
            "Đồng chí **Chủ tịch** phát biểu khai mạc.\n\n- Thứ nhất: thu ngân sách\n- Thứ hai: **trật tự** đô thị\n\nKết thúc.\n1. Giao Văn phòng;\n2. Giao Công an phường.",
        );
        assert_eq!(
            blocks,
            vec![
                Block::Paragraph(vec![
                    Span { text: "Đồng chí ".into(), bold: false },
                    Span { text: "Chủ tịch".into(), bold: true },
                    Span { text: " phát biểu khai mạc.".into(), bold: false },
                ]),
                Block::Bullet(vec![Span { text: "Thứ nhất: thu ngân sách".into(), bold: false }]),
                Block::Bullet(vec![
                    Span { text: "Thứ hai: ".into(), bold: false },
                    Span { text: "trật tự".into(), bold: true },
                    Span { text: " đô thị".into(), bold: false }
                ]),
                Block::Paragraph(vec![Span { text: "Kết thúc.".into(), bold: false }]),
                // Lines pasted one per paragraph, a numbered list: apart, as typed.
                Block::Paragraph(vec![Span { text: "1. Giao Văn phòng;".into(), bold: false }]),
                Block::Paragraph(vec![Span { text: "2. Giao Công an phường.".into(), bold: false }]),
            ]
        );
    }

    #[test]
    fn sections_keep_their_order() {
        let mut m = Minutes::default();
        m.set_text(SectionKey::Conclusion, "c");
        m.set_text(SectionKey::Item(ItemId(5)), "b");
        m.set_text(SectionKey::Opening, "a");
        m.set_text(SectionKey::Item(ItemId(5)), "b2");
        let keys: Vec<_> = m.sections.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, vec![SectionKey::Opening, SectionKey::Item(ItemId(5)), SectionKey::Conclusion]);
        assert_eq!(m.text(SectionKey::Item(ItemId(5))), "b2");
        // A section a later room adds still reads.
        let later: SectionKey = serde_json::from_str(r#"{"kind":"annex"}"#).unwrap();
        assert_eq!(later, SectionKey::Unknown);
        let recipients: SectionKey = serde_json::from_str(r#"{"kind":"recipients"}"#).unwrap();
        assert_eq!(recipients, SectionKey::Recipients);
    }
}
