//! Each reader's own copy of a restricted document, stamped with their name.
//!
//! A document above `public` (`members`, `named`, `secret`) never reaches a
//! reader as uploaded, participant or staff account (the secretary's office,
//! the administrator): they get a copy that carries, on every page, the
//! reader's name and the time their copy was first made, across the page
//! and again in small type along its foot. A photocopy or a screenshot that
//! leaves the room names whose copy it was.
//!
//! The copy is made once per reader and version (its time is fixed then,
//! kept in `reader_copies`) and stored like any content, by its SHA-256: so
//! it has its own chunk manifest and ETag, and chunked transfer, resume and
//! `If-None-Match` work on it as on the original. The document's `sha256` in
//! the meeting state stays the version's name; the manifest of a reader's
//! copy says which version it is a copy of (`copy_of`).
//!
//! The pages are the original's, embedded whole (krilla, with hayro reading
//! the original): text stays text, searchable and sharp.

use crate::AppState;
use crate::error::{Error, Result};
use crate::pdf::{SERIF_REGULAR, mm, text_width};
use gavel_shared::model::*;
use krilla::Document as Pdf;
use krilla::color::rgb;
use krilla::geom::{Point, Size, Transform};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::text::{Font, TextDirection};
use sqlx::Row;
use std::sync::Arc;
use time::OffsetDateTime;

/// Who reads a copy of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Participant(ParticipantId),
    /// A staff account: a secretary, the administrator.
    Staff(StaffId),
}

impl Reader {
    /// Its key in `reader_copies`: (kind, id).
    fn key(self) -> (&'static str, i64) {
        match self {
            Reader::Participant(p) => ("participant", p.0),
            Reader::Staff(s) => ("staff", s.0),
        }
    }
}

/// Whether `actor` reads `doc` through a copy of their own: everyone who
/// reads a restricted document, staff accounts included (the room server
/// itself, for imports, and a room display, which reads only public ones,
/// are no reader).
pub fn applies(actor: &Actor, doc: &Document) -> Option<Reader> {
    if doc.confidentiality == Confidentiality::Public {
        return None;
    }
    match *actor {
        Actor::Participant { participant, .. } => Some(Reader::Participant(participant)),
        Actor::Admin { staff } | Actor::Staff { staff } => Some(Reader::Staff(staff)),
        Actor::System | Actor::Display { .. } => None,
    }
}

/// The text stamped on a reader's copy.
pub fn stamp_text(name: &str, made: OffsetDateTime) -> String {
    let t = gavel_shared::clock::in_room(made);
    format!("Bản của {name} · {:02}:{:02} {:02}/{:02}/{} · không sao chép", t.hour(), t.minute(), t.day(), u8::from(t.month()), t.year())
}

/// `original` with `line` on every page, if it has at most `max_pages`.
///
/// This parses an uploaded PDF with no bound on memory or recursion: the
/// server runs it only in a worker process ([`crate::pdf_worker`]).
pub fn stamp(original: &[u8], line: &str, max_pages: usize) -> anyhow::Result<Vec<u8>> {
    let pdf = Arc::new(krilla::pdf::Pdf::new(original.to_vec()).map_err(|e| anyhow::anyhow!("cannot read the PDF: {e:?}"))?);
    let sizes: Vec<(f32, f32)> = pdf.pages().iter().map(|p| p.render_dimensions()).collect();
    anyhow::ensure!(!sizes.is_empty(), "the PDF has no pages");
    anyhow::ensure!(sizes.len() <= max_pages, "it has {} pages, more than the {max_pages} a document may have", sizes.len());
    let source = krilla::pdf::PdfDocument::new(pdf);
    let font = Font::new(SERIF_REGULAR.to_vec().into(), 0).ok_or_else(|| anyhow::anyhow!("bad font"))?;
    let mut out = Pdf::new();
    for (i, &(w, h)) in sizes.iter().enumerate() {
        let settings = PageSettings::from_wh(w, h).ok_or_else(|| anyhow::anyhow!("page {} has no size", i + 1))?;
        let mut page = out.start_page_with(settings);
        let mut s = page.surface();
        s.draw_pdf_page(&source, Size::from_wh(w, h).expect("a positive size"), i);
        // Across the middle, along the diagonal, faint.
        let size = (w.min(h) / 24.0).clamp(9.0, 26.0);
        let across = text_width(line, size, false);
        s.set_fill(Some(Fill {
            paint: rgb::Color::new(190, 30, 30).into(),
            opacity: NormalizedF32::new(0.22).expect("in range"),
            rule: Default::default(),
        }));
        s.push_transform(&Transform::from_rotate_at(-h.atan2(w).to_degrees(), w / 2.0, h / 2.0));
        s.draw_text(Point::from_xy((w - across) / 2.0, h / 2.0 + size / 3.0), font.clone(), size, line, false, TextDirection::Auto);
        s.pop();
        // Along the foot, small and plain, for a printout.
        s.set_fill(Some(Fill { paint: rgb::Color::new(90, 90, 90).into(), opacity: NormalizedF32::ONE, rule: Default::default() }));
        s.draw_text(Point::from_xy(mm(8.0), h - mm(4.0)), font.clone(), 7.0, line, false, TextDirection::Auto);
        s.finish();
        page.finish();
    }
    out.finish().map_err(|e| anyhow::anyhow!("cannot write the stamped PDF: {e:?}"))
}

/// What a reader is served for a document: the content's hash and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub sha256: String,
    pub size: u64,
    /// Set when this is a reader's copy: the version it was made from.
    pub copy_of: Option<String>,
}

/// The content `actor` is to receive for `doc`: the original, or their own
/// stamped copy (made now if this is their first read of this version).
pub async fn served(app: &AppState, actor: &Actor, meeting: MeetingId, doc: &Document) -> Result<Served> {
    let Some(reader) = applies(actor, doc) else {
        return Ok(Served { sha256: doc.sha256.clone(), size: doc.size, copy_of: None });
    };
    let (kind, id) = reader.key();
    let find = || {
        sqlx::query("SELECT sha256, size, made_at FROM reader_copies WHERE original = ? AND reader_kind = ? AND reader = ?")
            .bind(doc.sha256.as_str())
            .bind(kind)
            .bind(id)
            .fetch_optional(&app.db)
    };
    // The copy already made, if its content is still in the store.
    let ready = |row: &sqlx::sqlite::SqliteRow| {
        let sha: String = row.get("sha256");
        app.documents.path(&sha).is_file().then(|| Served {
            sha256: sha,
            size: row.get::<i64, _>("size") as u64,
            copy_of: Some(doc.sha256.clone()),
        })
    };
    if let Some(served) = find().await?.as_ref().and_then(ready) {
        return Ok(served);
    }
    // Each copy is made once: the reader's first request makes it, others
    // for the same copy wait for it and then find it. Different copies are
    // made side by side (the worker runs one per core at most).
    let making = app.documents.making(doc.sha256.clone(), kind, id);
    let _this_copy = making.lock().await;
    let row = find().await?;
    if let Some(served) = row.as_ref().and_then(ready) {
        return Ok(served);
    }
    // Made before but lost from the store: made again with its first time.
    let made = match &row {
        Some(row) => OffsetDateTime::parse(&row.get::<String, _>("made_at"), &time::format_description::well_known::Rfc3339)
            .map_err(|e| Error::Internal(e.into()))?,
        None => OffsetDateTime::now_utc().replace_nanosecond(0).expect("zero is a valid nanosecond"),
    };
    // A participant renamed or removed while their copy was being made: the
    // change forgot their copies as it committed, so one recorded after it
    // would keep the old name for good, or stay for someone gone. The copy
    // is recorded only while they still bear the name it was stamped with
    // (checked in the insert itself); otherwise it is made again.
    for _ in 0..3 {
        if let Some(served) = stamp_and_keep(app, meeting, doc, reader, made).await? {
            return Ok(served);
        }
    }
    Err(Error::Unavailable)
}

/// Stamps `reader`'s copy of `doc` and records it, or `None` when the
/// participant's name changed meanwhile (nothing recorded).
async fn stamp_and_keep(
    app: &AppState,
    meeting: MeetingId,
    doc: &Document,
    reader: Reader,
    made: OffsetDateTime,
) -> Result<Option<Served>> {
    let (kind, id) = reader.key();
    let name = match reader {
        Reader::Participant(p) => {
            let handle = app.meetings.get(meeting).await?;
            handle.state().await.participant(p).map(|p| p.name.clone()).ok_or(Error::NotFound("participant"))?
        }
        // The account's name beside the person's: display names repeat,
        // and the administrator's names a role, not a person.
        Reader::Staff(s) => sqlx::query_as::<_, (String, String)>("SELECT display_name, username FROM staff WHERE id = ?")
            .bind(s.0)
            .fetch_optional(&app.db)
            .await?
            .map(|(name, user)| format!("{name} ({user})"))
            .ok_or(Error::NotFound("staff account"))?,
    };
    let line = stamp_text(&name, made);
    let copy = app.pdf.stamp(&app.documents.path(&doc.sha256), &line).await.map_err(|e| match e {
        Error::Unstampable(why) => {
            Error::Unstampable(format!("this document cannot be stamped with its reader's name, so it is not served: {why}"))
        }
        e => e,
    })?;
    // Kept and recorded together, out of the store's collection's way; and
    // only while the original is still a document's: one removed while its
    // copy was being made has been collected, and its copy must not stay.
    let _storing = app.documents.copying.read().await;
    let still: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM documents WHERE sha256 = ? LIMIT 1").bind(doc.sha256.as_str()).fetch_optional(&app.db).await?;
    if still.is_none() {
        return Err(Error::NotFound("document"));
    }
    let sha = app.documents.put(&copy).await?;
    let made_text = made.format(&time::format_description::well_known::Rfc3339).map_err(|e| Error::Internal(e.into()))?;
    let named = match reader {
        Reader::Participant(_) => "EXISTS (SELECT 1 FROM participants WHERE id = ? AND name = ?)",
        Reader::Staff(_) => "EXISTS (SELECT 1 FROM staff WHERE id = ? AND display_name || ' (' || username || ')' = ?)",
    };
    let kept = sqlx::query(&format!(
        "INSERT INTO reader_copies (original, reader_kind, reader, made_at, sha256, size) SELECT ?, ?, ?, ?, ?, ? WHERE {named} \
         ON CONFLICT (original, reader_kind, reader) DO UPDATE SET sha256 = excluded.sha256, size = excluded.size"
    ))
    .bind(doc.sha256.as_str())
    .bind(kind)
    .bind(id)
    .bind(made_text)
    .bind(&sha)
    .bind(copy.len() as i64)
    .bind(id)
    .bind(&name)
    .execute(&app.db)
    .await?;
    if kept.rows_affected() == 0 {
        tracing::info!(document = doc.id.0, reader = ?reader, "the reader's name changed while their copy was made: made again");
        // The copy stored and not recorded goes with the next collection.
        app.meetings.services().content_freed.notify_one();
        return Ok(None);
    }
    tracing::info!(document = doc.id.0, reader = ?reader, "made a reader's stamped copy");
    Ok(Some(Served { sha256: sha, size: copy.len() as u64, copy_of: Some(doc.sha256.clone()) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stamp_names_the_reader_and_the_time_in_vietnam() {
        let t = time::macros::datetime!(2026-11-23 01:05 UTC);
        assert_eq!(stamp_text("Nguyễn Văn An", t), "Bản của Nguyễn Văn An · 08:05 23/11/2026 · không sao chép");
    }

    #[test]
    fn every_page_keeps_its_size_and_gains_the_stamp() {
        let mut l = crate::pdf::Layout::new();
        l.paragraph("Trang một", 13.0, false, crate::pdf::Align::Left, 0.0);
        l.page_break();
        l.paragraph("Trang hai", 13.0, false, crate::pdf::Align::Left, 0.0);
        let original = l.render("Tài liệu", "vi").unwrap();
        let copy = stamp(&original, "Bản của Trần Thị Bình", 2).unwrap();
        let read = krilla::pdf::Pdf::new(copy.clone()).unwrap();
        let sizes: Vec<_> = read.pages().iter().map(|p| p.render_dimensions()).collect();
        assert_eq!(sizes.len(), 2);
        let before: Vec<_> = krilla::pdf::Pdf::new(original.clone()).unwrap().pages().iter().map(|p| p.render_dimensions()).collect();
        assert_eq!(sizes, before);
        assert!(stamp(b"%PDF-1.7\nnot really\n%%EOF\n", "x", 2).is_err(), "a broken PDF is refused, not served unstamped");
        let too_long = stamp(&original, "x", 1).unwrap_err().to_string();
        assert!(too_long.contains("it has 2 pages, more than the 1"), "{too_long}");
    }
}
