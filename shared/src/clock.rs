//! Times as the room shows them. A meeting is held in one place, and its
//! minutes, the stamps on readers' copies and every screen give times in
//! that place's zone, Vietnam's (UTC+7, no daylight saving), whatever zone
//! a tablet or the secretary's laptop is set to: a tablet left on UTC showed
//! a meeting called for 08:00 as "01:00:00", and a secretary typing 08:00 on
//! such a laptop called the meeting for 15:00.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// The room's zone: Vietnam's.
pub const ROOM_OFFSET: UtcOffset = time::macros::offset!(+7);

/// `t` in the room's zone.
pub fn in_room(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(ROOM_OFFSET)
}

/// Midnight of `t`'s day in the room's zone.
pub fn day_start(t: OffsetDateTime) -> OffsetDateTime {
    in_room(t).replace_time(time::Time::MIDNIGHT)
}

/// A time of the meeting (its start, a deadline, when an opinion was
/// given), to the minute: "08:00 ngày 30/11/2026", or in English
/// "08:00, 30/11/2026".
pub fn date_time(t: OffsetDateTime, english: bool) -> String {
    let t = in_room(t);
    let joint = if english { ", " } else { " ngày " };
    format!("{:02}:{:02}{joint}{:02}/{:02}/{}", t.hour(), t.minute(), t.day(), u8::from(t.month()), t.year())
}

/// The room's clock: "08:56:13".
pub fn clock(t: OffsetDateTime) -> String {
    let t = in_room(t);
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// The value of an `<input type="datetime-local">` showing `t` in the
/// room's zone: "2026-11-30T08:00".
pub fn to_input(t: OffsetDateTime) -> String {
    let t = in_room(t);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}", t.year(), u8::from(t.month()), t.day(), t.hour(), t.minute())
}

/// A `datetime-local` value ("2026-11-30T08:00", seconds allowed) read as
/// a time in the room's zone; `None` unless it is a real date and time.
pub fn from_input(v: &str) -> Option<OffsetDateTime> {
    let (date, time) = v.trim().split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i32>().ok());
    let (year, month, day) = (d.next()??, d.next()??, d.next()??);
    if d.next().is_some() {
        return None;
    }
    let mut t = time.split(':');
    let hour = t.next()?.parse::<u8>().ok()?;
    let minute = t.next()?.parse::<u8>().ok()?;
    // Browsers add seconds (and their fraction) when a step asks for them.
    let second = match t.next() {
        Some(s) => s.split('.').next()?.parse::<u8>().ok()?,
        None => 0,
    };
    if t.next().is_some() {
        return None;
    }
    let date = Date::from_calendar_date(year, Month::try_from(u8::try_from(month).ok()?).ok()?, u8::try_from(day).ok()?).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(ROOM_OFFSET))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn times_show_in_the_rooms_zone_whatever_zone_they_come_in() {
        let utc = datetime!(2026-11-30 01:00 UTC);
        assert_eq!(date_time(utc, false), "08:00 ngày 30/11/2026");
        assert_eq!(date_time(utc, true), "08:00, 30/11/2026");
        // Past midnight in Vietnam while still the day before in UTC.
        let late = datetime!(2026-12-31 17:30:05 UTC);
        assert_eq!(date_time(late, false), "00:30 ngày 01/01/2027");
        assert_eq!(clock(late), "00:30:05");
        assert_eq!(date_time(datetime!(2026-11-30 08:00 +07:00), false), date_time(utc, false));
    }

    #[test]
    fn an_input_value_is_read_and_written_in_the_rooms_zone() {
        let t = from_input("2026-11-30T08:00").expect("a time");
        assert_eq!(t, datetime!(2026-11-30 01:00 UTC));
        assert_eq!(to_input(datetime!(2026-11-30 01:00 UTC)), "2026-11-30T08:00");
        assert_eq!(from_input(&to_input(t)), Some(t));
        assert_eq!(from_input("2026-11-30T08:00:30.000"), Some(datetime!(2026-11-30 08:00:30 +07:00)));
        for bad in ["", "2026-11-30", "2026-02-30T08:00", "2026-11-30T25:00", "2026-11-30T08", "30/11/2026 08:00", "2026-11-30T08:00:00:00"]
        {
            assert_eq!(from_input(bad), None, "{bad:?}");
        }
    }
}
