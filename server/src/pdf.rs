//! A small typesetter for the PDFs the server makes itself (the demo's
//! documents now, the minutes later): A4 pages, Liberation Serif embedded
//! (SIL OFL, metric-compatible with Times New Roman, full Vietnamese
//! coverage), paragraphs wrapped by measured width, page numbers.
//!
//! krilla writes the PDF (subset fonts, ToUnicode maps, so every diacritic
//! can be searched and copied); rustybuzz, which krilla shapes with, measures.

use krilla::Document;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::text::{Font, TextDirection};
use std::sync::OnceLock;

/// Liberation Serif Regular (Debian `fonts-liberation2`), shipped with the server.
pub static SERIF_REGULAR: &[u8] = include_bytes!("../assets/fonts/LiberationSerif-Regular.ttf");
/// Liberation Serif Bold.
pub static SERIF_BOLD: &[u8] = include_bytes!("../assets/fonts/LiberationSerif-Bold.ttf");
/// Liberation Serif Italic.
pub static SERIF_ITALIC: &[u8] = include_bytes!("../assets/fonts/LiberationSerif-Italic.ttf");

/// A typeface of the family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Regular,
    Bold,
    Italic,
}

impl Style {
    fn of(bold: bool) -> Style {
        if bold { Style::Bold } else { Style::Regular }
    }
}

const A4_W: f32 = 595.276;
const A4_H: f32 = 841.89;

/// Millimetres to points.
pub fn mm(v: f32) -> f32 {
    v * 72.0 / 25.4
}

fn face(style: Style) -> &'static rustybuzz::Face<'static> {
    static REGULAR: OnceLock<rustybuzz::Face<'static>> = OnceLock::new();
    static BOLD: OnceLock<rustybuzz::Face<'static>> = OnceLock::new();
    static ITALIC: OnceLock<rustybuzz::Face<'static>> = OnceLock::new();
    let (cell, bytes) = match style {
        Style::Regular => (&REGULAR, SERIF_REGULAR),
        Style::Bold => (&BOLD, SERIF_BOLD),
        Style::Italic => (&ITALIC, SERIF_ITALIC),
    };
    cell.get_or_init(|| rustybuzz::Face::from_slice(bytes, 0).expect("the shipped font parses"))
}

/// The width of `text` in points at `size`.
pub fn text_width(text: &str, size: f32, bold: bool) -> f32 {
    styled_width(text, size, Style::of(bold))
}

/// `word` cut into pieces no wider than `room` (a web address or a long
/// file name would otherwise run off the page); a word that fits, whole.
fn fit_word(word: &str, size: f32, style: Style, room: f32) -> Vec<String> {
    if styled_width(word, size, style) <= room {
        return vec![word.to_string()];
    }
    let mut pieces = vec![];
    let mut piece = String::new();
    for c in word.chars() {
        piece.push(c);
        if piece.chars().count() > 1 && styled_width(&piece, size, style) > room {
            piece.pop();
            pieces.push(std::mem::take(&mut piece));
            piece.push(c);
        }
    }
    pieces.push(piece);
    pieces
}

/// The width of `text` in points at `size` in a style.
pub fn styled_width(text: &str, size: f32, style: Style) -> f32 {
    let face = face(style);
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
    style: Style,
    text: String,
    /// A rule this wide instead of text (under the motto of a heading).
    rule: Option<f32>,
}

/// A piece of a line in one style, for [`Layout::rich`] and [`Layout::columns`].
#[derive(Debug, Clone)]
pub struct Piece {
    pub text: String,
    pub style: Style,
    /// In [`Layout::columns`]: a rule under the piece, this share of its
    /// last line's width (Decree 30 rules the motto and the organisation).
    pub rule: Option<f32>,
}

impl Piece {
    /// A piece of text in a style.
    pub fn new(text: impl Into<String>, style: Style) -> Piece {
        Piece { text: text.into(), style, rule: None }
    }

    /// The same, ruled under with a line `share` of its width.
    pub fn ruled(mut self, share: f32) -> Piece {
        self.rule = Some(share);
        self
    }
}

/// Text laid out on A4 pages, top to bottom.
#[derive(Clone)]
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

    /// A bold heading after `before` points of space, kept with the first
    /// `lines_after` lines of what follows: when they would not fit under it
    /// on this page, it starts the next one (never a heading alone at the
    /// foot of a page).
    pub fn heading(&mut self, text: &str, size: f32, indent: f32, before: f32, lines_after: usize) {
        let leading = size * 1.35;
        // A long agenda item's title wraps: about as many lines as its width takes.
        let width = (self.right - self.left - indent).max(1.0);
        let own: usize = text.lines().map(|l| ((text_width(l, size, true) / width).ceil() as usize).max(1)).sum();
        let lines = own.max(1) + lines_after;
        if self.y + before + leading * lines as f32 > self.bottom {
            self.page_break();
        } else {
            self.y += before;
        }
        self.paragraph(text, size, true, Align::Left, indent);
    }

    /// A paragraph, wrapped to the text width, with a first-line indent.
    pub fn paragraph(&mut self, text: &str, size: f32, bold: bool, align: Align, indent: f32) {
        let width = self.right - self.left;
        let leading = size * 1.35;
        for source_line in text.lines() {
            let mut first = true;
            let mut line = String::new();
            let words: Vec<String> =
                source_line.split_whitespace().flat_map(|w| fit_word(w, size, Style::of(bold), width - indent.max(0.0))).collect();
            let mut lines = Vec::new();
            for w in &words {
                let candidate = if line.is_empty() { w.clone() } else { format!("{line} {w}") };
                let avail = if first { width - indent } else { width };
                if !line.is_empty() && text_width(&candidate, size, bold) > avail {
                    lines.push((std::mem::take(&mut line), first));
                    first = false;
                    line = w.clone();
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
                page.push(Line { x, baseline: self.y, size, style: Style::of(bold), text: l, rule: None });
            }
        }
    }

    /// A justified paragraph of pieces in several styles, wrapped word by
    /// word, as Decree 30 lays out a body: its first line indented by
    /// `indent` and the others from the margin; or, with `bullet`, a dash
    /// at `indent` and every line hanging after it. Every line but the last
    /// is spread to the full width.
    pub fn rich(&mut self, pieces: &[Piece], size: f32, indent: f32, bullet: bool) {
        let leading = size * 1.35;
        // Words with their style, whether a space comes before them
        // ("**Hùng**, Chủ tịch": the comma follows the bold name directly),
        // and whether a line may break before them without one (the pieces
        // of a word too long for a line). Tabs and line breaks are spaces.
        let (left, right) = (self.left, self.right);
        let hang = left + indent + 12.0;
        let start = move |first: bool| match (bullet, first) {
            (true, _) => hang,
            (false, true) => left + indent,
            (false, false) => left,
        };
        let room_of = move |first: bool| right - start(first);
        let narrowest = room_of(true).min(room_of(false));
        let mut words: Vec<(String, Style, bool, bool)> = vec![];
        let mut ended_with_space = false;
        for p in pieces {
            let mut space_before = p.text.starts_with(char::is_whitespace) || ended_with_space || words.is_empty();
            ended_with_space = p.text.ends_with(char::is_whitespace);
            for w in p.text.split(char::is_whitespace) {
                if w.is_empty() {
                    space_before = true;
                    continue;
                }
                for (k, piece) in fit_word(w, size, p.style, narrowest).into_iter().enumerate() {
                    words.push((piece, p.style, space_before && k == 0, k > 0));
                }
                space_before = true;
            }
        }
        let space = styled_width(" ", size, Style::Regular);
        let mut line: Vec<(String, Style, bool)> = vec![];
        let mut width = 0.0;
        let mut first = true;
        let flush = |layout: &mut Layout, line: &mut Vec<(String, Style, bool)>, first: bool, width: f32, last: bool| {
            if layout.y + leading > layout.bottom {
                layout.page_break();
            }
            layout.y += leading;
            let x0 = start(first);
            if bullet && first {
                let page = layout.pages.last_mut().expect("there is always a page");
                page.push(Line { x: x0 - 12.0, baseline: layout.y, size, style: Style::Regular, text: "-".into(), rule: None });
            }
            // The slack of a full line goes into its spaces; the last line
            // keeps plain spaces.
            let gaps = line.iter().skip(1).filter(|(_, _, gap)| *gap).count();
            let stretch = if last || gaps == 0 { 0.0 } else { ((layout.right - x0 - width) / gaps as f32).max(0.0) };
            // Consecutive words of one style are drawn as one run, unless
            // their spaces are stretched.
            let mut runs: Vec<(String, Style, bool)> = vec![];
            for (i, (w, s, gap)) in line.drain(..).enumerate() {
                let gap = gap && i > 0;
                match runs.last_mut() {
                    Some((text, style, _)) if *style == s && (stretch == 0.0 || !gap) => {
                        if gap {
                            text.push(' ');
                        }
                        text.push_str(&w);
                    }
                    _ => runs.push((w, s, gap)),
                }
            }
            let mut x = x0;
            for (text, style, gap) in runs {
                if gap {
                    x += space + stretch;
                }
                let w = styled_width(&text, size, style);
                let page = layout.pages.last_mut().expect("there is always a page");
                page.push(Line { x, baseline: layout.y, size, style, text, rule: None });
                x += w;
            }
        };
        for (w, style, gap, cut) in words {
            let ww = styled_width(&w, size, style);
            let extra = if line.is_empty() || !gap { 0.0 } else { space };
            if !line.is_empty() && (gap || cut) && width + extra + ww > room_of(first) {
                flush(self, &mut line, first, width, false);
                first = false;
                width = 0.0;
            }
            width += if line.is_empty() { ww } else { extra + ww };
            line.push((w, style, gap));
        }
        if !line.is_empty() {
            flush(self, &mut line, first, width, true);
        }
    }

    /// Two columns of centred lines side by side (the heading of an
    /// administrative document, the signature blocks). `split` is the share
    /// of the width the left column takes.
    /// A block that does not fit in what is left of the page starts on the
    /// next one: a signature block is never split or pushed into the margin.
    pub fn columns(&mut self, left: &[(Piece, f32)], right: &[(Piece, f32)], split: f32) {
        let width = self.right - self.left;
        let mid = self.left + width * split;
        // Wrap within the column: a long organisation name takes two lines.
        type Row = (String, Style, f32, Option<f32>);
        let wrap = |lines: &[(Piece, f32)], from: f32, to: f32| -> Vec<Row> {
            let room = to - from - 6.0;
            let mut out = vec![];
            for (p, size) in lines {
                let mut rows: Vec<String> = vec![];
                for w in p.text.split(' ') {
                    match rows.last_mut() {
                        Some(r) if styled_width(&format!("{r} {w}"), *size, p.style) <= room => {
                            r.push(' ');
                            r.push_str(w);
                        }
                        _ => rows.push(w.to_string()),
                    }
                }
                let last = rows.len().saturating_sub(1);
                out.extend(rows.into_iter().enumerate().map(|(n, r)| (r, p.style, *size, p.rule.filter(|_| n == last))));
            }
            out
        };
        let (l, r) = (wrap(left, self.left, mid), wrap(right, mid, self.right));
        let height = |rows: &[Row]| rows.iter().map(|(_, _, size, _)| size * 1.3).sum::<f32>();
        if self.y + height(&l).max(height(&r)) > self.bottom {
            self.page_break();
        }
        let top = self.y;
        let place = |rows: Vec<Row>, from: f32, to: f32, layout: &mut Layout| -> f32 {
            let mut y = top;
            for (row, style, size, rule) in rows {
                y += size * 1.3;
                let w = styled_width(&row, size, style);
                let x = from + ((to - from) - w).max(0.0) / 2.0;
                let page = layout.pages.last_mut().expect("there is always a page");
                page.push(Line { x, baseline: y, size, style, text: row, rule: None });
                if let Some(share) = rule {
                    let rw = w * share;
                    let rx = from + ((to - from) - rw).max(0.0) / 2.0;
                    page.push(Line { x: rx, baseline: y + size * 0.3, size, style, text: String::new(), rule: Some(rw) });
                }
            }
            y
        };
        let l = place(l, self.left, mid, self);
        let r = place(r, mid, self.right, self);
        self.y = l.max(r);
    }

    /// How many pages the document has so far.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Writes the PDF.
    pub fn render(self, title: &str, language: &str) -> anyhow::Result<Vec<u8>> {
        let regular = Font::new(SERIF_REGULAR.to_vec().into(), 0).ok_or_else(|| anyhow::anyhow!("bad regular font"))?;
        let bold = Font::new(SERIF_BOLD.to_vec().into(), 0).ok_or_else(|| anyhow::anyhow!("bad bold font"))?;
        let italic = Font::new(SERIF_ITALIC.to_vec().into(), 0).ok_or_else(|| anyhow::anyhow!("bad italic font"))?;
        let mut doc = Document::new();
        doc.set_metadata(Metadata::new().title(title.to_string()).language(language.to_string()).creator("Gavel".to_string()));
        let settings = PageSettings::from_wh(A4_W, A4_H).ok_or_else(|| anyhow::anyhow!("bad page size"))?;
        for (i, lines) in self.pages.iter().enumerate() {
            let mut page = doc.start_page_with(settings.clone());
            let mut surface = page.surface();
            for l in lines {
                if let Some(w) = l.rule {
                    let mut path = PathBuilder::new();
                    if let Some(r) = Rect::from_xywh(l.x, l.baseline, w, 0.6) {
                        path.push_rect(r);
                    }
                    if let Some(path) = path.finish() {
                        surface.set_fill(Some(Fill::default()));
                        surface.draw_path(&path);
                    }
                    continue;
                }
                let font = match l.style {
                    Style::Regular => regular.clone(),
                    Style::Bold => bold.clone(),
                    Style::Italic => italic.clone(),
                };
                surface.draw_text(Point::from_xy(l.x, l.baseline), font, l.size, &l.text, false, TextDirection::Auto);
            }
            // The footer carries no page number: Decree 30 numbers pages
            // in the top margin, from the second (below), and none on the first.
            if let Some(foot) = &self.footer {
                let w = text_width(foot, 9.0, false);
                surface.draw_text(
                    Point::from_xy((A4_W - w) / 2.0, A4_H - mm(10.0)),
                    regular.clone(),
                    9.0,
                    foot,
                    false,
                    TextDirection::Auto,
                );
            }
            // Decree 30: from the second page, its number centred in the top margin.
            if i > 0 {
                let n = (i + 1).to_string();
                let w = text_width(&n, 13.0, false);
                surface.draw_text(Point::from_xy((A4_W - w) / 2.0, mm(13.0)), regular.clone(), 13.0, &n, false, TextDirection::Auto);
            }
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
                assert!(line.x + styled_width(&line.text, line.size, line.style) <= l.right + 0.5);
            }
        }
        let pdf = l.render("Thử", "vi").unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }

    #[test]
    fn a_heading_is_never_left_alone_at_the_foot_of_a_page() {
        let mut l = Layout::new();
        // Lines until two are left on the first page.
        while l.y + 13.0 * 1.35 * 3.0 <= l.bottom {
            l.paragraph("Các đại biểu thảo luận.", 13.0, false, Align::Left, 0.0);
        }
        assert_eq!(l.page_count(), 1);
        l.heading("III. NỘI DUNG CUỘC HỌP", 13.0, 0.0, 6.0, 2);
        assert_eq!(l.page_count(), 2, "the heading and two lines after it do not fit: on the next page");
        let first = &l.pages[1][0];
        assert_eq!((first.text.as_str(), first.baseline), ("III. NỘI DUNG CUỘC HỌP", l.top + 13.0 * 1.35));
        // A title on two lines counts as two.
        let mut l = Layout::new();
        while l.y + 13.0 * 1.35 * 4.0 <= l.bottom {
            l.paragraph("Các đại biểu thảo luận.", 13.0, false, Align::Left, 0.0);
        }
        l.heading(&"Kế hoạch chỉnh trang đô thị và trật tự xây dựng ".repeat(3), 13.0, mm(5.0), 3.0, 2);
        assert_eq!(l.page_count(), 2, "three lines left, four needed");
        // Where they fit, the space before it is kept.
        let mut l = Layout::new();
        let y = l.y;
        l.heading("1. Báo cáo", 13.0, 0.0, 6.0, 2);
        assert_eq!(l.pages[0][0].baseline, y + 6.0 + 13.0 * 1.35);
    }

    #[test]
    fn a_ruled_piece_gets_a_rule_under_it_of_its_share_of_the_width() {
        let mut l = Layout::new();
        let motto = "Độc lập - Tự do - Hạnh phúc";
        l.columns(
            &[(Piece::new("ỦY BAN NHÂN DÂN", Style::Bold).ruled(0.35), 12.5)],
            &[(Piece::new(motto, Style::Bold).ruled(1.0), 13.0)],
            0.42,
        );
        let rules: Vec<&Line> = l.pages[0].iter().filter(|line| line.rule.is_some()).collect();
        assert_eq!(rules.len(), 2);
        let motto_w = styled_width(motto, 13.0, Style::Bold);
        let org_w = styled_width("ỦY BAN NHÂN DÂN", 12.5, Style::Bold) * 0.35;
        assert!(rules.iter().any(|r| (r.rule.unwrap() - motto_w).abs() < 0.01));
        assert!(rules.iter().any(|r| (r.rule.unwrap() - org_w).abs() < 0.01));
        let pdf = l.render("Thử", "vi").unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }

    #[test]
    fn a_word_longer_than_a_line_is_cut_to_stay_on_the_page() {
        let address = format!("https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc={}", "1".repeat(120));
        let mut l = Layout::new();
        l.paragraph(&format!("Xem tại {address} để biết thêm."), 13.0, false, Align::Left, mm(10.0));
        l.rich(
            &[Piece::new("Câu hỏi:\t", Style::Bold), Piece::new(format!("Thông qua\ttờ trình\n{address}?"), Style::Regular)],
            13.0,
            0.0,
            true,
        );
        let lines: Vec<&Line> = l.pages.iter().flatten().filter(|line| line.rule.is_none()).collect();
        for line in &lines {
            assert!(line.x + styled_width(&line.text, line.size, line.style) <= l.right + 0.5, "{line:?} runs off the page");
            assert!(!line.text.contains(['\t', '\n']), "{line:?} draws a tab or line break");
        }
        // Nothing is lost: every character of the address is drawn, in order.
        let drawn: String = lines.iter().map(|line| line.text.replace(' ', "")).collect();
        assert_eq!(drawn.matches(&address.replace(' ', "")).count(), 2, "{drawn}");
        assert!(lines.len() >= 6, "{} lines", lines.len());
    }

    #[test]
    fn a_body_paragraph_is_justified_with_its_first_line_indented() {
        let mut l = Layout::new();
        let text = "Ủy ban nhân dân phường báo cáo tình hình thực hiện nhiệm vụ phát triển kinh tế - xã hội. ".repeat(6);
        l.rich(&[Piece::new("Ý kiến: ", Style::Bold), Piece::new(text, Style::Regular)], 13.0, mm(10.0), false);
        let mut rows: Vec<(f32, f32, f32)> = vec![];
        let mut runs = 0;
        for line in &l.pages[0] {
            let end = line.x + styled_width(&line.text, line.size, line.style);
            match rows.last_mut() {
                Some((y, _, right)) if *y == line.baseline => {
                    *right = end;
                    runs += 1;
                }
                _ => {
                    rows.push((line.baseline, line.x, end));
                    runs = 1;
                }
            }
        }
        assert!(rows.len() >= 4, "{rows:?}");
        let (_, first_x, _) = rows[0];
        assert!((first_x - (l.left + mm(10.0))).abs() < 0.01, "the first line is indented: {rows:?}");
        for (n, (_, x, right)) in rows.iter().enumerate() {
            if n > 0 {
                assert!((x - l.left).abs() < 0.01, "line {n} starts at the margin: {rows:?}");
            }
            if n + 1 < rows.len() {
                assert!((right - l.right).abs() < 0.5, "line {n} reaches the right margin: {rows:?}");
            } else {
                assert_eq!(runs, 1, "the last line keeps plain spaces, drawn as one run: {rows:?}");
            }
        }
        // A dash hangs before a list item, and its lines all start after it.
        let mut b = Layout::new();
        b.rich(&[Piece::new("Cần đẩy nhanh giải ngân vốn đầu tư công. ".repeat(5), Style::Regular)], 13.0, mm(5.0), true);
        let dash = &b.pages[0][0];
        assert_eq!((dash.text.as_str(), dash.x), ("-", b.left + mm(5.0)));
        let starts: Vec<f32> = b.pages[0][1..].iter().filter(|line| line.x < b.left + mm(5.0) + 12.5).map(|line| line.x).collect();
        assert!(starts.len() >= 2 && starts.iter().all(|x| (x - (b.left + mm(5.0) + 12.0)).abs() < 0.01), "{starts:?}");
    }

    #[test]
    fn the_font_covers_vietnamese() {
        let face = face(Style::Regular);
        for c in "ẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữỰựỲỳỴỵỶỷỸỹĐđƠơƯư".chars()
        {
            assert!(face.glyph_index(c).is_some(), "no glyph for {c}");
        }
    }
}
