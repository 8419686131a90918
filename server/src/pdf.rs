//! A small typesetter for the PDFs the server makes itself (the demo's
//! documents now, the minutes later): A4 pages, Liberation Serif embedded
//! (SIL OFL, metric-compatible with Times New Roman, full Vietnamese
//! coverage), paragraphs wrapped by measured width, page numbers.
//!
//! krilla writes the PDF (subset fonts, ToUnicode maps, so every diacritic
//! can be searched and copied); rustybuzz, which krilla shapes with, measures.

use krilla::Document;
use krilla::geom::Point;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};
use std::sync::OnceLock;

/// Liberation Serif Regular (Debian `fonts-liberation2`), shipped with the server.
pub static SERIF_REGULAR: &[u8] = include_bytes!("../assets/fonts/LiberationSerif-Regular.ttf");
/// Liberation Serif Bold.
pub static SERIF_BOLD: &[u8] = include_bytes!("../assets/fonts/LiberationSerif-Bold.ttf");

const A4_W: f32 = 595.276;
const A4_H: f32 = 841.89;

/// Millimetres to points.
pub fn mm(v: f32) -> f32 {
    v * 72.0 / 25.4
}

fn face(bold: bool) -> &'static rustybuzz::Face<'static> {
    static REGULAR: OnceLock<rustybuzz::Face<'static>> = OnceLock::new();
    static BOLD: OnceLock<rustybuzz::Face<'static>> = OnceLock::new();
    let (cell, bytes) = if bold { (&BOLD, SERIF_BOLD) } else { (&REGULAR, SERIF_REGULAR) };
    cell.get_or_init(|| rustybuzz::Face::from_slice(bytes, 0).expect("the shipped font parses"))
}

/// The width of `text` in points at `size`.
pub fn text_width(text: &str, size: f32, bold: bool) -> f32 {
    let face = face(bold);
    let mut buf = rustybuzz::UnicodeBuffer::new();
    buf.push_str(text);
    buf.guess_segment_properties();
    let shaped = rustybuzz::shape(face, &[], buf);
    let advance: i32 = shaped.glyph_positions().iter().map(|p| p.x_advance).sum();
    advance as f32 / face.units_per_em() as f32 * size
}

/// Horizontal placement of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

#[derive(Debug, Clone)]
struct Line {
    x: f32,
    baseline: f32,
    size: f32,
    bold: bool,
    text: String,
}

/// Text laid out on A4 pages, top to bottom.
pub struct Layout {
    pages: Vec<Vec<Line>>,
    y: f32,
    left: f32,
    right: f32,
    top: f32,
    bottom: f32,
    footer: Option<String>,
}

impl Default for Layout {
    fn default() -> Self {
        Self::new()
    }
}

impl Layout {
    /// An empty document with the margins of Vietnamese administrative
    /// documents (left 30 mm, right 15 mm, top and bottom 20 mm).
    pub fn new() -> Self {
        Layout {
            pages: vec![vec![]],
            y: mm(20.0),
            left: mm(30.0),
            right: A4_W - mm(15.0),
            top: mm(20.0),
            bottom: A4_H - mm(20.0),
            footer: None,
        }
    }

    /// Text printed at the foot of every page before "page/pages".
    pub fn footer(&mut self, text: impl Into<String>) {
        self.footer = Some(text.into());
    }

    /// Starts a new page.
    pub fn page_break(&mut self) {
        self.pages.push(vec![]);
        self.y = self.top;
    }

    /// Vertical space, in points.
    pub fn space(&mut self, pt: f32) {
        self.y += pt;
    }

    /// A paragraph, wrapped to the text width, with a first-line indent.
    pub fn paragraph(&mut self, text: &str, size: f32, bold: bool, align: Align, indent: f32) {
        let width = self.right - self.left;
        let leading = size * 1.35;
        for source_line in text.lines() {
            let mut first = true;
            let mut line = String::new();
            let words: Vec<&str> = source_line.split_whitespace().collect();
            let mut lines = Vec::new();
            for w in words {
                let candidate = if line.is_empty() { w.to_string() } else { format!("{line} {w}") };
                let avail = if first { width - indent } else { width };
                if !line.is_empty() && text_width(&candidate, size, bold) > avail {
                    lines.push((std::mem::take(&mut line), first));
                    first = false;
                    line = w.to_string();
                } else {
                    line = candidate;
                }
            }
            lines.push((line, first));
            for (l, is_first) in lines {
                if self.y + leading > self.bottom {
                    self.page_break();
                }
                self.y += leading;
                let w = text_width(&l, size, bold);
                let x = match align {
                    Align::Left => self.left + if is_first { indent } else { 0.0 },
                    Align::Center => self.left + (width - w) / 2.0,
                    Align::Right => self.right - w,
                };
                let page = self.pages.last_mut().expect("there is always a page");
                page.push(Line { x, baseline: self.y, size, bold, text: l });
            }
        }
    }

    /// How many pages the document has so far.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Writes the PDF.
    pub fn render(self, title: &str, language: &str) -> anyhow::Result<Vec<u8>> {
        let regular = Font::new(SERIF_REGULAR.to_vec().into(), 0).ok_or_else(|| anyhow::anyhow!("bad regular font"))?;
        let bold = Font::new(SERIF_BOLD.to_vec().into(), 0).ok_or_else(|| anyhow::anyhow!("bad bold font"))?;
        let mut doc = Document::new();
        doc.set_metadata(Metadata::new().title(title.to_string()).language(language.to_string()).creator("Gavel".to_string()));
        let total = self.pages.len();
        let settings = PageSettings::from_wh(A4_W, A4_H).ok_or_else(|| anyhow::anyhow!("bad page size"))?;
        for (i, lines) in self.pages.iter().enumerate() {
            let mut page = doc.start_page_with(settings.clone());
            let mut surface = page.surface();
            for l in lines {
                let font = if l.bold { bold.clone() } else { regular.clone() };
                surface.draw_text(Point::from_xy(l.x, l.baseline), font, l.size, &l.text, false, TextDirection::Auto);
            }
            let foot = match &self.footer {
                Some(f) => format!("{f} — {}/{}", i + 1, total),
                None => format!("{}/{}", i + 1, total),
            };
            let w = text_width(&foot, 9.0, false);
            surface.draw_text(Point::from_xy((A4_W - w) / 2.0, A4_H - mm(10.0)), regular.clone(), 9.0, &foot, false, TextDirection::Auto);
            surface.finish();
            page.finish();
        }
        doc.finish().map_err(|e| anyhow::anyhow!("cannot write the PDF: {e:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_paragraphs_wrap_and_break_pages() {
        let mut l = Layout::new();
        let text = "Nghị quyết về kế hoạch phát triển kinh tế - xã hội năm 2027 của phường. ".repeat(200);
        l.paragraph(&text, 13.0, false, Align::Left, mm(10.0));
        assert!(l.page_count() > 2, "{} pages", l.page_count());
        for page in &l.pages {
            for line in page {
                assert!(line.x + text_width(&line.text, line.size, line.bold) <= l.right + 0.5);
            }
        }
        let pdf = l.render("Thử", "vi").unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }

    #[test]
    fn the_font_covers_vietnamese() {
        let face = face(false);
        for c in "ẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữỰựỲỳỴỵỶỷỸỹĐđƠơƯư".chars()
        {
            assert!(face.glyph_index(c).is_some(), "no glyph for {c}");
        }
    }
}
