//! The web UI in headless Chromium (Debian's `chromium` and
//! `chromium-driver`, installed by scripts/test): a delegate signs in and
//! sees the current item; the chair moves the agenda in a second browser;
//! the delegate's page follows without a reload.

use anyhow::Context;
use fantoccini::{Client, ClientBuilder, Locator};
use gavel_shared::decision::*;
use gavel_shared::model::{Confidentiality, DocumentId, ItemId, ItemStatus, MeetingId, ParticipantId, PollId, Role};
use gavel_shared::protocol::Command;
use gavel_tests::*;
use serde_json::json;
use std::time::Duration;

struct Driver {
    child: std::process::Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn chromedriver() -> anyhow::Result<Driver> {
    chromedriver_in_zone(None).await
}

/// A chromedriver whose browsers run in the time zone `zone` (a tz name),
/// or the machine's.
async fn chromedriver_in_zone(zone: Option<&str>) -> anyhow::Result<Driver> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let mut command = std::process::Command::new("chromedriver");
    if let Some(zone) = zone {
        command.env("TZ", zone);
    }
    let child =
        command.arg(format!("--port={port}")).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().map_err(
            |e| anyhow::anyhow!("cannot start chromedriver ({e}): install Debian's chromium and chromium-driver (scripts/test does)"),
        )?;
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(Driver { child, url });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("chromedriver did not start")
}

async fn browser(driver: &Driver) -> anyhow::Result<Client> {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--window-size=1280,900"]
        }),
    );
    Ok(ClientBuilder::native().capabilities(caps).connect(&driver.url).await?)
}

async fn text_of(c: &Client, css: &str) -> anyhow::Result<String> {
    Ok(c.find(Locator::Css(css)).await?.text().await?)
}

/// Waits until the element's text contains `want`.
async fn wait_text(c: &Client, css: &str, want: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(t) = text_of(c, css).await
            && t.contains(want)
        {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("{css} never showed {want:?} (now {:?})", text_of(c, css).await.ok());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in(c: &Client, server: &TestServer, s: &Scenario, role: Role) -> anyhow::Result<()> {
    let (id, pin) = s.person(role, 0);
    sign_in_as(c, server, s.meeting, id, &pin).await
}

async fn sign_in_as(c: &Client, server: &TestServer, meeting: MeetingId, id: ParticipantId, pin: &str) -> anyhow::Result<()> {
    sign_in_at(c, &server.url(""), meeting, id, pin).await
}

/// Signs the administrator in on the staff page of the room at `base`,
/// until the meetings' list shows.
async fn sign_in_admin(c: &Client, base: &str) -> anyhow::Result<()> {
    c.goto(&format!("{base}/#/staff")).await?;
    c.wait().at_most(WAIT).for_element(Locator::Css("#staff-user")).await?.send_keys("admin").await?;
    c.find(Locator::Css("#staff-password")).await?.send_keys(ADMIN_PASSWORD).await?;
    c.find(Locator::Css("#staff-sign-in")).await?.click().await?;
    c.wait().at_most(WAIT).for_element(Locator::Css("#new-meeting-title")).await?;
    Ok(())
}

/// Signs in through the room at `base` (`http://ADDR`), which may be a relay.
async fn sign_in_at(c: &Client, base: &str, meeting: MeetingId, id: ParticipantId, pin: &str) -> anyhow::Result<()> {
    c.goto(&format!("{base}/#/join/{}/{}", meeting, id)).await?;
    let chosen = c.wait().at_most(WAIT).for_element(Locator::Css(&format!(".participant-option[data-participant='{}']", id.0))).await?;
    chosen.click().await?;
    c.find(Locator::Css("#pin")).await?.send_keys(pin).await?;
    c.find(Locator::Css("#sign-in")).await?.click().await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(".conn[data-conn='live']")).await?;
    Ok(())
}

#[tokio::test]
async fn the_delegates_page_follows_the_chair_without_a_reload() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let driver = chromedriver().await?;
    let delegate = browser(&driver).await?;
    let chair = browser(&driver).await?;

    sign_in(&delegate, &server, &s, Role::Delegate).await?;
    wait_text(&delegate, "#current-title", "Chưa bắt đầu").await?;
    wait_text(&delegate, "#who-name", "Lê Văn Một").await?;
    // A marker that a reload would wipe.
    delegate.execute("window.__stillHere = 42; return 1;", vec![]).await?;

    sign_in(&chair, &server, &s, Role::Chair).await?;
    chair.wait().at_most(WAIT).for_element(Locator::Css("#next-item")).await?.click().await?;
    wait_text(&delegate, "#current-title", "1. Khai mạc").await?;
    wait_text(&delegate, ".agenda-item.current", "Khai mạc").await?;
    chair.find(Locator::Css("#next-item")).await?.click().await?;
    wait_text(&delegate, "#current-title", "2. Báo cáo công tác tuần").await?;
    wait_text(&delegate, "#item-title", "Báo cáo công tác tuần").await?;
    // An item's presenter changed by the secretary shows in the agenda.
    let secretary = s.http_as(&server, Role::Secretary, 0).await?;
    let item = s.items[1];
    let edit = Command::UpdateItem {
        item,
        title: "Báo cáo công tác tuần".into(),
        presenter: "Phó Chủ tịch Trần Hà".into(),
        summary: String::new(),
    };
    assert_eq!(secretary.command(s.meeting, "presenter", &edit).await?.status, 200);
    wait_text(&delegate, &format!(".agenda-item[data-item='{}'] .item-presenter", item.0), "Phó Chủ tịch Trần Hà").await?;

    // What a delegate sees, kept for the README and for looking at a failure.
    let png = delegate.screenshot().await?;
    assert!(png.starts_with(b"\x89PNG"), "a screenshot");
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("delegate.png"), png)?;

    let marker = delegate.execute("return window.__stillHere;", vec![]).await?;
    assert_eq!(marker, json!(42), "the page was not reloaded");
    // The delegate has no chair controls.
    assert!(delegate.find(Locator::Css("#next-item")).await.is_err());
    // English on request, Vietnamese by default.
    delegate.find(Locator::Css(".lang button:nth-child(2)")).await?.click().await?;
    wait_text(&delegate, ".current-banner .label", "Under discussion").await?;

    delegate.close().await?;
    chair.close().await?;
    Ok(())
}

/// A secretary's laptop (or a tablet) left on another zone shows the
/// meeting's times in the room's, Vietnam's, as the minutes do, and a time
/// typed there means that time in the room.
#[tokio::test]
async fn times_are_shown_and_typed_in_the_rooms_zone_on_a_device_set_to_another() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::prepare(&server).await?;
    let driver = chromedriver_in_zone(Some("America/New_York")).await?;
    let c = browser(&driver).await?;
    sign_in(&c, &server, &s, Role::Secretary).await?;
    // The browser is in another zone, or this test could not fail.
    let offset = c.execute("return new Date(Date.UTC(2026, 10, 23)).getTimezoneOffset();", vec![]).await?;
    assert_eq!(offset, json!(300), "the browser runs in New York's zone");
    // The meeting was called for 08:00 +07:00: 20:00 the day before in New York.
    wait_text(&c, ".meeting-header .meta", "08:00 ngày 23/11/2026").await?;
    c.find(Locator::Css("#tab-prepare")).await?.click().await?;
    let starts = c.wait().at_most(WAIT).for_element(Locator::Css("#meeting-starts")).await?;
    assert_eq!(starts.prop("value").await?.as_deref(), Some("2026-11-23T08:00"));
    c.execute(
        "const e = document.querySelector('#meeting-starts'); e.value = '2026-11-23T09:30'; \
         e.dispatchEvent(new Event('input', { bubbles: true })); return 1;",
        vec![],
    )
    .await?;
    // The locality for the minutes' date line is typed with the rest.
    c.find(Locator::Css("#meeting-locality")).await?.send_keys("Hòa Bình").await?;
    c.find(Locator::Css("#save-meeting")).await?.click().await?;
    wait_text(&c, ".meeting-header .meta", "09:30 ngày 23/11/2026").await?;
    let state = s.admin.state(s.meeting).await?;
    assert_eq!(state.meeting.starts_at, time::macros::datetime!(2026-11-23 09:30 +07:00), "09:30 in the room");
    assert_eq!(state.meeting.locality, "Hòa Bình");
    c.close().await?;

    // A new meeting called from the same zone, by the administrator.
    let c = browser(&driver).await?;
    sign_in_admin(&c, &server.url("")).await?;
    let title = c.find(Locator::Css("#new-meeting-title")).await?;
    // The list of meetings switches language with the page, times and buttons included.
    wait_text(&c, ".meeting .go", "Mở").await?;
    assert!(text_of(&c, ".meeting .meeting-when").await?.contains(" ngày "));
    c.find(Locator::Css("#lang-en")).await?.click().await?;
    wait_text(&c, ".meeting .go", "Open").await?;
    let when = text_of(&c, ".meeting .meeting-when").await?;
    assert!(!when.contains("ngày") && when.contains(", "), "{when}");
    c.find(Locator::Css("#lang-vi")).await?.click().await?;
    wait_text(&c, ".meeting .go", "Mở").await?;
    title.send_keys("Họp tổ công tác").await?;
    c.execute(
        "const e = document.querySelector('#new-meeting-starts'); e.value = '2026-12-01T14:00'; \
         e.dispatchEvent(new Event('input', { bubbles: true })); return 1;",
        vec![],
    )
    .await?;
    c.find(Locator::Css("#create-meeting")).await?.click().await?;
    wait_text(&c, ".meeting-header .meta", "14:00 ngày 01/12/2026").await?;
    let list = s.admin.get("/api/meetings").await?;
    let created = list.body.as_array().into_iter().flatten().find(|m| m["title"] == "Họp tổ công tác").expect("the new meeting is listed");
    let starts_at =
        time::OffsetDateTime::parse(created["starts_at"].as_str().unwrap_or_default(), &time::format_description::well_known::Rfc3339)?;
    assert_eq!(starts_at, time::macros::datetime!(2026-12-01 14:00 +07:00), "14:00 in the room");
    c.close().await?;
    Ok(())
}

#[tokio::test]
async fn an_old_browser_gets_a_message_not_a_blank_page() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    // Simulate a browser without WebAssembly: the check runs before the app.
    let page = server.url("/");
    c.goto(&page).await?;
    c.execute(
        "const page = arguments[0];
         return fetch(page).then(r => r.text()).then(html => {
             const noWasm = '<script>delete window.WebAssembly;</script>';
             document.open(); document.write(html.replace('<head>', '<head>' + noWasm)); document.close();
             return 1;
         });",
        vec![json!(page)],
    )
    .await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(t) = text_of(&c, ".too-old").await {
            assert!(t.contains("quá cũ"), "{t}");
            break;
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "no message for an old browser");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.close().await?;
    Ok(())
}

#[tokio::test]
async fn the_page_says_it_is_loading_then_starts_and_says_so_if_it_ever_fails() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    c.goto(&server.url("/")).await?;
    c.wait().at_most(WAIT).for_element(Locator::Css("body[data-app]")).await?;
    // Started: no loading line left, no "too old", nothing failed.
    for gone in ["#loading-app", ".too-old", "#app-failed"] {
        assert!(c.find(Locator::Css(gone)).await.is_err(), "{gone} is shown");
    }
    // Every button a finger may need is at least 44 px high (link-like ones
    // and the language switch were 25 and 32).
    let small: Vec<String> = serde_json::from_value(
        c.execute(
            "return [...document.querySelectorAll('button')].filter(b => b.offsetParent && b.getBoundingClientRect().height < 44)
                 .map(b => b.outerHTML.slice(0, 80));",
            vec![],
        )
        .await?,
    )?;
    assert!(small.is_empty(), "too small to tap: {small:?}");
    // Something fails while the page is in use (a bug, a panic): the page
    // says so and offers a reload, instead of going dead in silence.
    c.execute("setTimeout(() => { throw new Error('hỏng'); }, 0); return 1;", vec![]).await?;
    wait_text(&c, "#app-failed", "Tải lại trang").await?;
    c.close().await?;
    Ok(())
}

/// A yes/no vote on the assembly's item, created and opened by the chair.
async fn open_yes_no_poll(chair: &Http, s: &Assembly, question: &str) -> anyhow::Result<PollId> {
    let poll = Command::CreatePoll {
        item: s.item,
        question: question.into(),
        kind: PollKind::YesNo,
        options: vec![],
        max_choices: 1,
        secret: false,
        allow_change: false,
        rule: MajorityRule::default(),
    };
    let a = chair.command(s.meeting, "poll", &poll).await?;
    let poll = PollId(a.body["result"]["id"].as_i64().with_context(|| format!("{a:?}"))?);
    let a = chair.command(s.meeting, "open-poll", &Command::OpenPoll { poll }).await?;
    anyhow::ensure!(a.status == 200, "{a:?}");
    Ok(poll)
}

#[tokio::test]
async fn a_vote_on_a_tablet_shows_up_on_the_chairs_console() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 3).await?;
    let chair_http = s.sign_in(&s.chair).await?;
    let poll = open_yes_no_poll(&chair_http, &s, "Thông qua biên bản kỳ họp trước?").await?;

    let driver = chromedriver().await?;
    let chair = browser(&driver).await?;
    let voter = browser(&driver).await?;
    sign_in_as(&chair, &server, s.meeting, s.chair.0, &s.chair.1).await?;
    wait_text(&chair, "#live-counts .bar-row[data-option='0'] .count", "0").await?;
    wait_text(&chair, "#poll-progress", "0 / ").await?;

    sign_in_as(&voter, &server, s.meeting, s.voters[0].0, &s.voters[0].1).await?;
    let yes = voter.wait().at_most(WAIT).for_element(Locator::Css(".vote-option[data-option='0']")).await?;
    assert!(yes.text().await?.contains("Tán thành"));
    // A ballot that cannot be changed is confirmed first; declined, nothing is sent.
    yes.click().await?;
    assert!(voter.get_alert_text().await?.contains("Tán thành"));
    voter.dismiss_alert().await?;
    yes.click().await?;
    voter.accept_alert().await?;
    wait_text(&voter, "#vote-confirmation", "Tán thành").await?;
    assert!(voter.find(Locator::Css(".notice.error")).await.is_err(), "one ballot went, not two");

    wait_text(&chair, "#live-counts .bar-row[data-option='0'] .count", "1").await?;
    wait_text(&chair, "#poll-progress", "1 / ").await?;
    // Leaving the room after voting: the ballot counts, and its voter still
    // sees it confirmed, not "you may not vote".
    let secretary = s.sign_in(&s.secretary).await?;
    let present = text_of(&voter, "#quorum strong").await?;
    let left = Command::SetAttendance { participant: s.voters[0].0, attendance: Attendance::Absent, reason: String::new() };
    assert_eq!(secretary.command(s.meeting, "left", &left).await?.status, 200);
    eventually("the voter's page has them absent", || async { Ok(text_of(&voter, "#quorum strong").await? != present) }).await?;
    wait_text(&voter, "#vote-confirmation", "Tán thành").await?;
    assert!(voter.find(Locator::Css("#not-voting")).await.is_err());
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(tmp.join("chair-vote.png"), chair.screenshot().await?)?;
    std::fs::write(tmp.join("voter-vote.png"), voter.screenshot().await?)?;
    // The room's yes/no options in the chair's language.
    chair.find(Locator::Css("#lang-en")).await?.click().await?;
    wait_text(&chair, "#live-counts .bar-row[data-option='0']", "In favour").await?;
    chair.find(Locator::Css("#lang-vi")).await?.click().await?;
    wait_text(&chair, "#live-counts .bar-row[data-option='0']", "Tán thành").await?;
    // The meeting is not closed while the vote is open (it would stay open
    // for good): the chair is told why, in Vietnamese.
    chair.find(Locator::Css("#close-meeting")).await?.click().await?;
    chair.accept_alert().await?;
    wait_text(&chair, ".notice.error", "Đang có biểu quyết: hãy kết thúc hoặc hủy biểu quyết trước khi bế mạc cuộc họp.").await?;
    // Closing is asked first: declined, the vote stays open.
    let close = format!("#close-poll-{}", poll.0);
    chair.find(Locator::Css(&close)).await?.click().await?;
    chair.dismiss_alert().await?;
    chair.find(Locator::Css(&close)).await?.click().await?;
    chair.accept_alert().await?;
    wait_text(&voter, &format!("#verdict-{}", poll.0), "KHÔNG THÔNG QUA").await?; // 1 of 4 members
    voter.close().await?;
    chair.close().await?;
    Ok(())
}

/// A closed vote's result says what each share is of and why it failed:
/// counted against the votes for and against, abstentions are outside the
/// base (they showed as 200%), and a vote lost for want of a quorum says so
/// (the hall saw every vote in favour and "not adopted").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_result_says_what_each_share_is_of_and_why_the_vote_failed() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    // Six members: the chair and five delegates, three of them here.
    let s = Assembly::build(&server.url(""), 5).await?;
    let chair = s.sign_in(&s.chair).await?;
    let other = s.sign_in(&s.voters[1]).await?;
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in_as(&c, &server, s.meeting, s.voters[0].0, &s.voters[0].1).await?;
    let poll = Command::CreatePoll {
        item: s.item,
        question: "Thông qua tờ trình?".into(),
        kind: PollKind::YesNo,
        options: vec![],
        max_choices: 1,
        secret: false,
        allow_change: false,
        rule: MajorityRule { basis: Basis::VotesCast, share: Share::MORE_THAN_HALF },
    };
    let a = chair.command(s.meeting, "poll", &poll).await?;
    let poll = PollId(a.body["result"]["id"].as_i64().with_context(|| format!("{a:?}"))?);
    assert_eq!(chair.command(s.meeting, "open", &Command::OpenPoll { poll }).await?.status, 200);
    let me = s.sign_in(&s.voters[0]).await?;
    for (who, key, choice) in [(&me, "yes", 0u8), (&other, "abstain-1", 2), (&chair, "abstain-2", 2)] {
        let a = who.command(s.meeting, key, &Command::CastBallot { poll, choices: vec![choice] }).await?;
        assert_eq!(a.status, 200, "{a:?}");
    }
    assert_eq!(chair.command(s.meeting, "close", &Command::ClosePoll { poll }).await?.status, 200);
    let result = chair.state(s.meeting).await?.poll(poll).and_then(|p| p.result.clone()).context("no result")?;
    assert!(!result.quorum.holds, "3 of 6 members is not more than half: {:?}", result.quorum);

    let verdict = format!("#verdict-{}", poll.0);
    wait_text(&c, &verdict, "KHÔNG THÔNG QUA (không đủ túc số)").await?;
    let row = |n: u8| format!(".result[data-poll='{}'] .bar-row[data-option='{n}'] .bar-count", poll.0);
    // A decimal comma in Vietnamese, as the minutes write it; a point in English.
    assert_eq!(text_of(&c, &row(0)).await?, "1 (100,00%)");
    assert_eq!(text_of(&c, &row(2)).await?, "2 (không tính vào tỷ lệ)");
    c.find(Locator::Css("#lang-en")).await?.click().await?;
    wait_text(&c, &row(0), "1 (100.00%)").await?;
    c.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_room_display_opens_with_a_one_time_code_that_leaves_the_address_bar() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let code = secretary.post(&format!("/api/meetings/{}/display-code", s.meeting), &json!({})).await?;
    let code = code.body["code"].as_str().unwrap().to_string();
    let driver = chromedriver().await?;
    let display = browser(&driver).await?;
    display.goto(&server.url(&format!("/#/display/{code}"))).await?;
    wait_text(&display, "#display-current", "1. Nghị quyết").await?;
    let url = display.current_url().await?;
    assert!(!url.as_str().contains(&code), "the code left the address bar: {url}");
    // The display follows the chair.
    let chair = s.sign_in(&s.chair).await?;
    let added = secretary
        .command(
            s.meeting,
            "add",
            &Command::AddItem { title: "Bế mạc".into(), presenter: String::new(), summary: String::new(), position: None },
        )
        .await?;
    assert_eq!(added.status, 200, "{added:?}");
    let moved = chair.command(s.meeting, "go", &Command::NextItem { from: None }).await?;
    assert!(moved.body["seq"].is_u64(), "{moved:?}");
    wait_text(&display, "#display-current", "2. Bế mạc").await?;
    display.close().await?;
    Ok(())
}

#[tokio::test]
async fn the_secretary_writes_the_minutes_in_the_browser() -> anyhow::Result<()> {
    use gavel_shared::minutes::SectionKey;
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in_as(&c, &server, s.meeting, s.secretary.0, &s.secretary.1).await?;
    c.wait().at_most(WAIT).for_element(Locator::Css("#tab-minutes")).await?.click().await?;
    let area = c.wait().at_most(WAIT).for_element(Locator::Css(".minutes-section[data-section='opening'] textarea")).await?;
    area.send_keys("Đồng chí Chủ tọa khai mạc phiên họp.").await?;
    c.find(Locator::Css(".minutes-section[data-section='opening'] button.save")).await?.click().await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let st = secretary.state(s.meeting).await?;
        if st.minutes.text(SectionKey::Opening) == "Đồng chí Chủ tọa khai mạc phiên họp." {
            break;
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the text never reached the server");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Typing alone is saved after a pause, with no button pressed.
    let item = c.find(Locator::Css(&format!(".minutes-section[data-section='item-{}'] textarea", s.item))).await?;
    item.send_keys("Thống nhất thông qua.").await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    while secretary.state(s.meeting).await?.minutes.text(SectionKey::Item(s.item)) != "Thống nhất thông qua." {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the typed text was not saved by itself");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("secretary-minutes.png"), c.screenshot().await?)?;
    // Every export in each language, named in the page's.
    let csv_en = c.find(Locator::Css("a.download[data-format='csv'][data-lang='en']")).await?;
    assert_eq!(csv_en.text().await?, "CSV (tiếng Anh)");
    assert!(csv_en.attr("href").await?.is_some_and(|h| h.ends_with("format=csv&lang=en")));
    assert_eq!(text_of(&c, "a.download[data-format='pdf'][data-lang='vi']").await?, "PDF (tiếng Việt)");

    // An export is saved from within the page, under the room's name for it
    // (each file handed to the browser is recorded here)…
    c.execute(
        "window.saved = []; const make = URL.createObjectURL; \
         URL.createObjectURL = b => { window.saved.push(b.size); return make.call(URL, b); }; \
         HTMLAnchorElement.prototype.click = function () { window.saved.push(this.download); }; return 1;",
        vec![],
    )
    .await?;
    let here = c.current_url().await?;
    c.find(Locator::Css("a.download[data-format='docx'][data-lang='vi']")).await?.click().await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    let saved = loop {
        let saved = c.execute("return window.saved;", vec![]).await?;
        if saved.as_array().is_some_and(|a| a.len() == 2) {
            break saved;
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the export was not saved: {saved}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(saved[0].as_u64().is_some_and(|n| n > 5_000), "{saved}");
    assert!(saved[1].as_str().is_some_and(|n| n.ends_with(".docx")), "{saved}");
    // …and one the room refuses (the session expired) is said in the page,
    // which stays where it was instead of showing the refusal's raw JSON.
    c.delete_all_cookies().await?;
    c.find(Locator::Css("a.download[data-format='pdf'][data-lang='vi']")).await?.click().await?;
    let notice = c.wait().at_most(WAIT).for_element(Locator::Css(".notice.error")).await?.text().await?;
    assert!(notice.starts_with("Hãy đăng nhập."), "{notice}");
    assert_eq!(c.current_url().await?, here);
    assert!(c.find(Locator::Css("#tab-minutes")).await.is_ok(), "the page left the app");
    c.close().await?;
    Ok(())
}

/// The value of a form field.
async fn value_of(c: &Client, css: &str) -> anyhow::Result<String> {
    Ok(c.find(Locator::Css(css)).await?.prop("value").await?.unwrap_or_default())
}

#[tokio::test]
async fn what_is_being_typed_survives_everything_else_the_room_does() -> anyhow::Result<()> {
    use gavel_shared::minutes::SectionKey;
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 3).await?;
    let driver = chromedriver().await?;
    let secretary = browser(&driver).await?;
    let chair = browser(&driver).await?;
    let delegate = browser(&driver).await?;
    sign_in_as(&secretary, &server, s.meeting, s.secretary.0, &s.secretary.1).await?;
    sign_in_as(&chair, &server, s.meeting, s.chair.0, &s.chair.1).await?;
    sign_in_as(&delegate, &server, s.meeting, s.voters[0].0, &s.voters[0].1).await?;

    // The secretary writes the minutes, the chair drafts a vote and a
    // delegate an opinion, none of them sent yet…
    secretary.wait().at_most(WAIT).for_element(Locator::Css("#tab-minutes")).await?.click().await?;
    let minutes = format!(".minutes-section[data-section='item-{}'] textarea", s.item);
    secretary.wait().at_most(WAIT).for_element(Locator::Css(&minutes)).await?.send_keys("Đại biểu thảo luận sôi nổi").await?;
    chair.wait().at_most(WAIT).for_element(Locator::Css(".new-poll summary")).await?.click().await?;
    chair.find(Locator::Css("#poll-question")).await?.send_keys("Thông qua dự thảo nghị quyết?").await?;
    let opinion = "#opinion-form textarea";
    delegate.wait().at_most(WAIT).for_element(Locator::Css(opinion)).await?.send_keys("Đề nghị bổ sung số liệu").await?;

    // …while the room goes on: another delegate arrives and asks to speak.
    let other = s.sign_in(&s.voters[1]).await?;
    assert_eq!(other.command(s.meeting, "ask", &Command::RequestToSpeak).await?.status, 200);
    wait_text(&chair, "#speaker-queue", "Đại biểu 0001").await?;
    wait_text(&delegate, "#speaker-queue", "Đại biểu 0001").await?;

    assert_eq!(value_of(&secretary, &minutes).await?, "Đại biểu thảo luận sôi nổi");
    assert_eq!(value_of(&chair, "#poll-question").await?, "Thông qua dự thảo nghị quyết?");
    assert_eq!(value_of(&delegate, opinion).await?, "Đề nghị bổ sung số liệu");

    // The minutes are saved by themselves after the pause, and the
    // secretary's page still answers.
    let reader = s.sign_in(&s.secretary).await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    while reader.state(s.meeting).await?.minutes.text(SectionKey::Item(s.item)) != "Đại biểu thảo luận sôi nổi" {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the typed minutes were not saved");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(other.command(s.meeting, "withdraw", &Command::WithdrawRequest).await?.status, 200);
    secretary.find(Locator::Css("#tab-room")).await?.click().await?;
    wait_text(&secretary, "#current-title", "Nghị quyết").await?;
    // The chair's draft and the delegate's opinion go through as typed.
    chair.find(Locator::Css("#create-poll")).await?.click().await?;
    wait_text(&delegate, "#polls", "Thông qua dự thảo nghị quyết?").await?;
    delegate.find(Locator::Css("#opinion-form button[type='submit']")).await?.click().await?;
    wait_text(&chair, ".opinion-list", "Đề nghị bổ sung số liệu").await?;
    for c in [secretary, chair, delegate] {
        c.close().await?;
    }
    Ok(())
}

/// A TCP relay to the room on loopback that can stop passing the room's
/// answers (`mute`) and cut every connection it carries: a Wi-Fi link
/// that dies after a command went out and before its answer came back.
struct Relay {
    addr: std::net::SocketAddr,
    mute: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// While set, the room's answers wait in the relay (a slow link).
    hold: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Connections taken so far.
    accepted: std::sync::Arc<std::sync::atomic::AtomicU32>,
    /// When not 0, the room's answers pass at about this many bytes per
    /// millisecond on each connection (weak Wi-Fi).
    pace: std::sync::Arc<std::sync::atomic::AtomicU32>,
    /// When set, the next WebSocket text message from the room holding
    /// these bytes is dropped (an event lost on the way), then it is unset.
    drop_text: std::sync::Arc<std::sync::Mutex<Option<Vec<u8>>>>,
    /// Messages dropped so far.
    dropped: std::sync::Arc<std::sync::atomic::AtomicU32>,
    /// Connections upgraded to a WebSocket so far.
    upgraded: std::sync::Arc<std::sync::atomic::AtomicU32>,
    cut: tokio::sync::watch::Sender<u32>,
}

/// The length of the WebSocket frame at the start of `b`, once it is all there.
fn frame_len(b: &[u8]) -> Option<usize> {
    let (len, head) = match *b.get(1)? & 0x7f {
        126 => (u16::from_be_bytes(b.get(2..4)?.try_into().ok()?) as usize, 4),
        127 => (u64::from_be_bytes(b.get(2..10)?.try_into().ok()?) as usize, 10),
        n => (n as usize, 2),
    };
    let total = head + if b[1] & 0x80 != 0 { 4 } else { 0 } + len;
    (b.len() >= total).then_some(total)
}

/// The whole frames at the start of `pending`, taken out of it, less the
/// text frame `drop_text` asks to drop.
fn pass_frames(pending: &mut Vec<u8>, drop_text: &std::sync::Mutex<Option<Vec<u8>>>, dropped: &std::sync::atomic::AtomicU32) -> Vec<u8> {
    let mut out = vec![];
    while let Some(len) = frame_len(pending) {
        let frame: Vec<u8> = pending.drain(..len).collect();
        let mut armed = drop_text.lock().expect("not poisoned");
        if frame[0] & 0x0f == 1 && armed.as_ref().is_some_and(|p| frame.windows(p.len()).any(|w| w == p.as_slice())) {
            *armed = None;
            dropped.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            continue;
        }
        out.extend_from_slice(&frame);
    }
    out
}

impl Relay {
    async fn start(to: std::net::SocketAddr) -> anyhow::Result<Relay> {
        Self::start_with(to, false).await
    }

    /// A relay that also cuts the room's WebSocket bytes into frames, so
    /// that `drop_text` can drop one; the others pass bytes as they come.
    async fn start_framed(to: std::net::SocketAddr) -> anyhow::Result<Relay> {
        Self::start_with(to, true).await
    }

    async fn start_with(to: std::net::SocketAddr, framed: bool) -> anyhow::Result<Relay> {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let mute = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let hold = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let (cut, cuts) = tokio::sync::watch::channel(0u32);
        let pace = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let drop_text = std::sync::Arc::new(std::sync::Mutex::new(None::<Vec<u8>>));
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let upgraded = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let (muted, held, taken, paced) = (mute.clone(), hold.clone(), accepted.clone(), pace.clone());
        let (to_drop, lost, upgrades) = (drop_text.clone(), dropped.clone(), upgraded.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                taken.fetch_add(1, Ordering::SeqCst);
                let Ok(room) = tokio::net::TcpStream::connect(to).await else { continue };
                let (mut cr, mut cw) = client.into_split();
                let (mut rr, mut rw) = room.into_split();
                let (mut cuts, muted, held, paced) = (cuts.clone(), muted.clone(), held.clone(), paced.clone());
                let (to_drop, lost, upgrades) = (to_drop.clone(), lost.clone(), upgrades.clone());
                cuts.mark_unchanged();
                tokio::spawn(async move {
                    let up = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        while let Ok(n @ 1..) = cr.read(&mut buf).await {
                            if rw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    };
                    let down = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        // After a WebSocket upgrade: the room's bytes not yet
                        // passed on, cut into frames so that one can be dropped.
                        let mut frames: Option<Vec<u8>> = None;
                        while let Ok(n @ 1..) = rr.read(&mut buf).await {
                            while held.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            let mut out = buf[..n].to_vec();
                            if let Some(pending) = frames.as_mut() {
                                pending.extend_from_slice(&out);
                                out = pass_frames(pending, &to_drop, &lost);
                            } else if framed
                                && out.starts_with(b"HTTP/1.1 101")
                                && let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n")
                            {
                                upgrades.fetch_add(1, Ordering::SeqCst);
                                let mut pending = out.split_off(end + 4);
                                out.extend(pass_frames(&mut pending, &to_drop, &lost));
                                frames = Some(pending);
                            }
                            if !muted.load(Ordering::SeqCst) && cw.write_all(&out).await.is_err() {
                                break;
                            }
                            let per_ms = paced.load(Ordering::SeqCst);
                            if per_ms > 0 {
                                tokio::time::sleep(Duration::from_millis(n as u64 / per_ms as u64)).await;
                            }
                        }
                    };
                    tokio::select! {
                        _ = up => {}
                        _ = down => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Ok(Relay { addr, mute, hold, accepted, pace, drop_text, dropped, upgraded, cut })
    }

    /// Waits until the page has opened a new connection since `before`
    /// connections were taken (after a cut: it came back).
    async fn wait_for_new_connection(&self, before: u32) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.accepted.load(std::sync::atomic::Ordering::SeqCst) <= before {
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "the page never connected again");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Drops every connection it carries, and passes answers again.
    fn cut_all(&self) {
        self.mute.store(false, std::sync::atomic::Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_whose_answer_was_lost_is_sent_again_and_taken_once() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let relay = Relay::start(server.addr).await?;
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in_at(&c, &relay.url(""), s.meeting, s.voters[0].0, &s.voters[0].1).await?;

    // The opinion reaches the room, its answer is lost, and the link drops.
    let area = c.wait().at_most(WAIT).for_element(Locator::Css("#opinion-form textarea")).await?;
    area.send_keys("Đề nghị làm rõ nguồn kinh phí").await?;
    relay.mute.store(true, std::sync::atomic::Ordering::SeqCst);
    c.find(Locator::Css("#opinion-form button[type='submit']")).await?.click().await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    while secretary.state(s.meeting).await?.opinions.is_empty() {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the opinion never reached the room");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    relay.cut_all();

    // Back on line, the page sends it again with the same key: the room
    // answers with what it did the first time, and the form empties.
    c.wait().at_most(WAIT).for_element(Locator::Css(".conn[data-conn='live']")).await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    while !value_of(&c, "#opinion-form textarea").await?.is_empty() {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the lost answer never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(secretary.state(s.meeting).await?.opinions.len(), 1, "taken once");
    assert!(c.find(Locator::Css(".notice.error")).await.is_err(), "no error shown");
    c.close().await?;
    Ok(())
}

/// An event lost between the room and a tablet: the page notices the gap at
/// the next event, asks for a snapshot on a new connection and catches up,
/// and meanwhile leaves what is on screen as it is: the document being
/// read stays open at its page (it used to be closed and the room view
/// built again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_event_is_caught_up_without_closing_the_document_being_read() -> anyhow::Result<()> {
    use std::sync::atomic::Ordering;
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let doc = s.upload_document("Tờ trình số 12.pdf", drawn_pdf(3), &[]).await?;
    let relay = Relay::start_framed(server.addr).await?;
    let (_driver, c) = upright_tablet(&relay.url(""), &s).await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(&document_button(doc.id))).await?.click().await?;
    wait_text(&c, ".pdf-status", "Trang 1 / 3").await?;
    c.find(Locator::Css(".go-page")).await?.send_keys("3\u{E007}").await?;
    wait_text(&c, ".pdf-status", "Trang 3 / 3").await?;
    wait_drawn(&c, 3).await?;
    c.execute("document.querySelector('.pdf-pages').dataset.kept = 'yes'; return 1;", vec![]).await?;
    let upgrades = relay.upgraded.load(Ordering::SeqCst);

    // The event of the first item added never reaches the page.
    *relay.drop_text.lock().expect("not poisoned") = Some("Mục bị lỡ".as_bytes().to_vec());
    let add = |title: &str| Command::AddItem { title: title.into(), presenter: String::new(), summary: String::new(), position: None };
    s.admin.command(s.meeting, "gap-1", &add("Mục bị lỡ")).await?;
    eventually("the relay dropped the event", || async { Ok(relay.dropped.load(Ordering::SeqCst) == 1) }).await?;
    s.admin.command(s.meeting, "gap-2", &add("Mục tiếp theo")).await?;

    // The next one shows the gap: a new connection, and a snapshot with both items.
    eventually("the page connected again", || async { Ok(relay.upgraded.load(Ordering::SeqCst) > upgrades) }).await?;
    wait_text(&c, ".agenda", "Mục bị lỡ").await?;
    wait_text(&c, ".agenda", "Mục tiếp theo").await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(".conn[data-conn='live']")).await?;
    let kept = c.execute("const r = document.querySelector('.pdf-pages'); return r ? r.dataset.kept || null : null;", vec![]).await?;
    assert_eq!(kept, json!("yes"), "the reader was closed and opened again while the page caught up");
    assert!(text_of(&c, ".pdf-status").await?.contains("Trang 3 / 3"), "still at page 3");
    // And it follows the meeting again from there.
    s.admin.command(s.meeting, "gap-3", &add("Mục cuối")).await?;
    wait_text(&c, ".agenda", "Mục cuối").await?;
    c.close().await?;
    Ok(())
}

/// Waits until the element's `value` is `want`.
async fn wait_value(c: &Client, css: &str, want: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = value_of(c, css).await.ok();
        if now.as_deref() == Some(want) {
            return Ok(());
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "{css} never held {want:?} (now {now:?})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until nothing matches `css`.
async fn wait_gone(c: &Client, css: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + WAIT;
    while c.find(Locator::Css(css)).await.is_ok() {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "{css} never went away");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secretarys_unsaved_form_survives_a_dropped_link() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 3).await?;
    let relay = Relay::start(server.addr).await?;
    let (_driver, c) = secretary_preparing(&relay.url(""), &s).await?;
    let name = "#new-participant-name";
    c.wait().at_most(WAIT).for_element(Locator::Css(name)).await?.send_keys("Trần Thị Bích").await?;

    // The Wi-Fi drops; the page connects again and the room welcomes it
    // again, then tells it what happened meanwhile.
    let before = relay.accepted.load(std::sync::atomic::Ordering::SeqCst);
    relay.cut_all();
    relay.wait_for_new_connection(before).await?;
    let other = s.sign_in(&s.secretary).await?;
    // Excused, not absent: absent is what an attendance nobody recorded
    // shows, so only a change the page could not already show proves that
    // it is following the room again.
    let excused = Command::SetAttendance { participant: s.voters[2].0, attendance: Attendance::Excused, reason: String::new() };
    assert_eq!(other.command(s.meeting, "excused", &excused).await?.status, 200);
    wait_value(&c, &format!("tr[data-participant='{}'] td.attendance select", s.voters[2].0.0), "excused").await?;

    // What was typed is still there, and goes through as typed.
    assert_eq!(value_of(&c, name).await?, "Trần Thị Bích", "the form was built anew when the room welcomed the page back");
    c.find(Locator::Css("#add-participant")).await?.click().await?;
    eventually("the participant is added", || async {
        Ok(other.state(s.meeting).await?.participants.iter().any(|p| p.name == "Trần Thị Bích"))
    })
    .await?;
    c.close().await?;
    Ok(())
}

#[tokio::test]
async fn the_secretary_enters_a_ballot_for_the_voter_chosen_while_others_vote() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 3).await?;
    let mut voters = vec![];
    for v in &s.voters {
        voters.push(s.sign_in(v).await?); // signing in marks them present
    }
    let chair = s.sign_in(&s.chair).await?;
    let poll = open_yes_no_poll(&chair, &s, "Thông qua kế hoạch năm?").await?;

    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in_as(&c, &server, s.meeting, s.secretary.0, &s.secretary.1).await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(".console details.manual summary")).await?.click().await?;
    let select = ".console select.enter-voter";
    let option = |p: ParticipantId| format!("{select} option[value='{}']", p.0);
    let (first, chosen, last) = (s.voters[0].0, s.voters[1].0, s.voters[2].0);
    c.wait().at_most(WAIT).for_element(Locator::Css(&option(chosen))).await?.click().await?;
    wait_value(&c, select, &chosen.0.to_string()).await?;

    // Another voter, listed before the one chosen, votes on their tablet:
    // the list loses them and the choice stays on the same person.
    let cast = |n: usize| Command::CastBallot { poll, choices: vec![n as u8 % 2] };
    assert_eq!(voters[0].command(s.meeting, "b0", &cast(0)).await?.status, 200);
    wait_gone(&c, &option(first)).await?;
    assert_eq!(value_of(&c, select).await?, chosen.0.to_string(), "the choice moved to someone else");

    // The one chosen votes on their own tablet meanwhile: no one is chosen,
    // and there is nothing to save for them.
    assert_eq!(voters[1].command(s.meeting, "b1", &cast(1)).await?.status, 200);
    wait_gone(&c, &option(chosen)).await?;
    assert_eq!(value_of(&c, select).await?, "", "a voter who has voted is still chosen");
    let save = c.find(Locator::Css(".console button.enter-ballot")).await?;
    assert!(!save.is_enabled().await?, "a ballot can still be saved for someone who has voted");

    // The last is entered by the secretary, once: no choice is made for
    // them by default, and the name and choice are asked first.
    c.find(Locator::Css(&option(last))).await?.click().await?;
    assert!(!save.is_enabled().await?, "a ballot can be saved with no choice made");
    c.find(Locator::Css(".console select.enter-choice option[value='1']")).await?.click().await?;
    save.click().await?;
    let asked = c.get_alert_text().await?;
    assert!(asked.contains("Đại biểu 0002") && asked.contains("Không tán thành"), "{asked}");
    c.dismiss_alert().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(chair.state(s.meeting).await?.poll(poll).map(|p| p.voters.len()), Some(2), "declined, nothing is sent");
    save.click().await?;
    c.accept_alert().await?;
    eventually("the entered ballot arrives", || async {
        Ok(chair
            .state(s.meeting)
            .await?
            .poll(poll)
            .is_some_and(|p| p.ballots.iter().any(|b| b.voter == last && b.choices == [1] && b.by_secretary)))
    })
    .await?;
    assert!(c.find(Locator::Css(".notice.error")).await.is_err(), "a ballot was sent for someone who had voted");
    assert_eq!(chair.state(s.meeting).await?.poll(poll).map(|p| p.voters.len()), Some(3));
    c.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_answered_after_the_secretary_left_the_tab_is_told_and_the_page_goes_on() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let relay = Relay::start(server.addr).await?;
    let (_driver, c) = secretary_preparing(&relay.url(""), &s).await?;
    let dir = tempfile::tempdir()?;
    let pdf = dir.path().join("to-trinh.pdf");
    std::fs::write(&pdf, drawn_pdf(1))?;
    let input = c.wait().at_most(WAIT).for_element(Locator::Css("#upload-form input[type='file']")).await?;
    assert_eq!(text_of(&c, "#upload-form label:has(input[type='file'])").await?, "Tệp PDF", "the file field's name");
    input.send_keys(&pdf.display().to_string()).await?;
    let reader = s.sign_in(&s.secretary).await?;
    let had = reader.state(s.meeting).await?.documents.len();

    // The room's answer is slow in coming; the secretary goes to the room.
    relay.hold.store(true, std::sync::atomic::Ordering::SeqCst);
    c.find(Locator::Css("#upload-form button[type='submit']")).await?.click().await?;
    eventually("the upload reaches the room", || async { Ok(reader.state(s.meeting).await?.documents.len() > had) }).await?;
    c.find(Locator::Css("#tab-room")).await?.click().await?;
    c.wait().at_most(WAIT).for_element(Locator::Css("#current-title")).await?;
    relay.hold.store(false, std::sync::atomic::Ordering::SeqCst);

    // The answer finds its form gone: it is told, and the page still works.
    wait_text(&c, ".notice", "Đã lưu").await?;
    c.find(Locator::Css("#tab-prepare")).await?.click().await?;
    wait_text(&c, ".documents-editor", "to-trinh").await?;
    c.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_file_over_the_rooms_limit_is_refused_with_the_limit_in_the_pages_language() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |c| c.max_upload = 64 * 1024).await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let (_driver, c) = secretary_preparing(&server.url(""), &s).await?;
    let pdf = dir.path().join("qua-lon.pdf");
    std::fs::write(&pdf, pack_pdf(4, 64 * 1024, 1, None))?;
    let input = c.wait().at_most(WAIT).for_element(Locator::Css("#upload-form input[type='file']")).await?;
    input.send_keys(&pdf.display().to_string()).await?;
    c.find(Locator::Css("#upload-form button[type='submit']")).await?.click().await?;
    // Before, the Vietnamese said only "Tệp quá lớn." and the English gave the limit in bytes.
    wait_text(&c, ".notice.error", "Tệp quá lớn: tối đa 64 KB.").await?;
    c.close().await?;
    Ok(())
}

#[tokio::test]
async fn an_unsent_opinion_is_kept_when_the_chair_moves_on_and_across_a_reload() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let chair = s.http_as(&server, Role::Chair, 0).await?;
    assert_eq!(chair.command(s.meeting, "next", &Command::NextItem { from: None }).await?.status, 200);
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in(&c, &server, &s, Role::Delegate).await?;
    wait_text(&c, "#current-title", "1. Khai mạc").await?;
    let area = "#opinion-form textarea";
    c.wait().at_most(WAIT).for_element(Locator::Css(area)).await?.send_keys("Đề nghị bổ sung kinh phí").await?;
    c.find(Locator::Css("#opinion-stance option[value='disagree']")).await?.click().await?;

    // The chair moves on while the delegate is writing: the form follows
    // the meeting, and says where the unsent opinion is.
    assert_eq!(chair.command(s.meeting, "next2", &Command::NextItem { from: None }).await?.status, 200);
    wait_text(&c, "#current-title", "2. Báo cáo công tác tuần").await?;
    wait_value(&c, area, "").await?;
    let open = format!(".drafts-elsewhere .open-draft[data-item='{}']", s.items[0].0);
    wait_text(&c, &open, "Khai mạc").await?;

    // Something written on this item survives a reload of the page.
    c.find(Locator::Css(area)).await?.send_keys("Nhất trí").await?;
    c.refresh().await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(".conn[data-conn='live']")).await?;
    wait_value(&c, area, "Nhất trí").await?;

    // The first draft is opened, as written, with its stance, and sent.
    c.wait().at_most(WAIT).for_element(Locator::Css(&open)).await?.click().await?;
    wait_value(&c, area, "Đề nghị bổ sung kinh phí").await?;
    assert_eq!(value_of(&c, "#opinion-stance").await?, "disagree", "the stance chosen was not kept");
    c.find(Locator::Css("#opinion-form button[type='submit']")).await?.click().await?;
    let sent = |st: &gavel_shared::state::MeetingState| {
        st.opinions.iter().find(|o| o.item == s.items[0] && o.text == "Đề nghị bổ sung kinh phí").map(|o| o.stance)
    };
    eventually("the kept opinion is sent", || async { Ok(sent(&chair.state(s.meeting).await?).is_some()) }).await?;
    assert_eq!(sent(&chair.state(s.meeting).await?), Some(Stance::Disagree), "sent with another stance than chosen");
    wait_value(&c, area, "").await?;
    // Sent, it is no longer a draft: back on the other item, whose draft
    // is still there, it is not offered.
    let other = format!(".drafts-elsewhere .open-draft[data-item='{}']", s.items[1].0);
    c.find(Locator::Css(&other)).await?.click().await?;
    wait_value(&c, area, "Nhất trí").await?;
    assert!(c.find(Locator::Css(".drafts-elsewhere")).await.is_err(), "a sent opinion is still offered as a draft");

    // The session ends without signing out (expired, the tablet's browser
    // reloads) and someone else signs in on that tablet: they do not get
    // the last person's words.
    c.delete_all_cookies().await?;
    c.refresh().await?;
    wait_gone(&c, "#sign-out").await?;
    c.goto("about:blank").await?;
    sign_in_as(&c, &server, s.meeting, s.person(Role::Delegate, 1).0, &s.person(Role::Delegate, 1).1).await?;
    wait_value(&c, area, "").await?;
    assert!(c.find(Locator::Css(".drafts-elsewhere")).await.is_err(), "another person's draft is offered");
    let left = c.execute("return Object.keys(sessionStorage).filter(k => k.startsWith('gavel.opinion-draft.')).length;", vec![]).await?;
    assert_eq!(left, json!(0), "another person's drafts are still in the tab");

    // Signing out forgets what was not sent, even the signed-out person's own.
    c.find(Locator::Css(area)).await?.send_keys("Chưa gửi").await?;
    c.find(Locator::Css("#sign-out")).await?.click().await?;
    wait_gone(&c, "#sign-out").await?;
    c.goto("about:blank").await?;
    sign_in_as(&c, &server, s.meeting, s.person(Role::Delegate, 1).0, &s.person(Role::Delegate, 1).1).await?;
    wait_value(&c, area, "").await?;
    assert!(c.find(Locator::Css(".drafts-elsewhere")).await.is_err(), "an unsent opinion outlived signing out");
    c.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_document_shows_its_first_page_before_the_whole_file_has_come() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let pdf = padded_pdf(2, 24 << 20);
    let size = pdf.len() as u64;
    let doc = s.upload_document("Hồ sơ quy hoạch.pdf", pdf, &[]).await?;
    let relay = Relay::start(server.addr).await?;
    let (_driver, c) = upright_tablet(&relay.url(""), &s).await?;

    // Room for every piece's timing entry, counted below.
    c.execute("performance.setResourceTimingBufferSize(5000); return 1;", vec![]).await?;
    // Weak Wi-Fi: about 2 MB/s from the room, 12 s for the whole file.
    relay.pace.store(2 * 1024, std::sync::atomic::Ordering::SeqCst);
    c.wait().at_most(WAIT).for_element(Locator::Css(&document_button(doc.id))).await?;
    // Its size as a reader says it, not "24577 KB".
    let meta = format!(".document[data-document='{}'] .doc-meta", doc.id.0);
    anyhow::ensure!(size >> 20 == 24, "the test's file is {size} bytes");
    wait_text(&c, &meta, "24 MB").await?;
    c.find(Locator::Css(&document_button(doc.id))).await?.click().await?;
    wait_text(&c, ".pdf-status", "Trang 1 / 2").await?;
    wait_drawn(&c, 1).await?;
    let received = |c: &Client| {
        let c = c.clone();
        async move {
            let v = c
                .execute(
                    "return performance.getEntriesByType('resource').filter(e => e.name.includes('/documents/')).reduce((a, e) => a + e.encodedBodySize, 0);",
                    vec![],
                )
                .await?;
            anyhow::Ok(v.as_u64().unwrap_or(0))
        }
    };
    let at_first_page = received(&c).await?;
    assert!(at_first_page > 0, "the document's pieces are not seen");
    assert!(at_first_page < size / 2, "page 1 waited for {at_first_page} of {size} bytes");

    // The rest follows in the background: the last page is drawn, and the
    // whole file comes, once.
    c.execute("document.querySelector(\".pdf-page[data-page='2']\").scrollIntoView(); return 1;", vec![]).await?;
    wait_drawn(&c, 2).await?;
    relay.pace.store(0, std::sync::atomic::Ordering::SeqCst);
    eventually("the rest of the document comes", || async { Ok(received(&c).await? >= size) }).await?;
    assert!(received(&c).await? < size + size / 10, "pieces were fetched more than once");
    c.close().await?;
    Ok(())
}

/// Only members vote: unticking "member" unticks "votes" with it (the room
/// refuses a voting non-member), and ticking "votes" makes a member.
#[tokio::test]
async fn a_participant_who_stops_being_a_member_stops_voting_and_one_given_a_vote_becomes_a_member() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let (_driver, c) = secretary_preparing(&server.url(""), &s).await?;
    let who = s.voters[0].0;
    let check = |class: &str| format!("tr[data-participant='{}'] input.{class}", who.0);
    c.wait().at_most(WAIT).for_element(Locator::Css(&check("member"))).await?.click().await?;
    let flags = || async {
        let p = s.admin.state(s.meeting).await?.participant(who).cloned().expect("the participant");
        anyhow::Ok((p.member, p.voting))
    };
    eventually("the room takes them as neither member nor voter", || async { Ok(flags().await? == (false, false)) }).await?;
    eventually("the vote is unticked on the screen", || async {
        Ok(c.find(Locator::Css(&check("voting"))).await?.prop("checked").await?.as_deref() == Some("false"))
    })
    .await?;
    assert!(c.find(Locator::Css(".notice.error")).await.is_err(), "nothing was refused");
    c.find(Locator::Css(&check("voting"))).await?.click().await?;
    eventually("given a vote, they are a member again", || async { Ok(flags().await? == (true, true)) }).await?;
    c.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_change_the_room_refuses_is_put_back_on_the_secretarys_screen() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let (_driver, c) = secretary_preparing(&server.url(""), &s).await?;
    let member = format!("tr[data-participant='{}'] input.member", s.voters[0].0.0);
    let tick = c.wait().at_most(WAIT).for_element(Locator::Css(&member)).await?;
    assert_eq!(tick.prop("checked").await?.as_deref(), Some("true"));

    // A vote opens meanwhile: who counts for it, and the quorum, are fixed
    // until it closes (the page offers the change, and the room refuses it).
    let chair = s.sign_in(&s.chair).await?;
    open_yes_no_poll(&chair, &s, "Thông qua kế hoạch?").await?;
    tick.click().await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(".notice.error")).await?;
    eventually("the refused change is put back", || async {
        Ok(c.find(Locator::Css(&member)).await?.prop("checked").await?.as_deref() == Some("true"))
    })
    .await?;
    let state = chair.state(s.meeting).await?;
    assert!(state.participant(s.voters[0].0).is_some_and(|p| p.member), "the room kept them a member");
    // A setting refused as well: the list shows the rule the room holds.
    assert_eq!(state.meeting.quorum, Share::TWO_THIRDS, "the new meeting's rule");
    assert_eq!(value_of(&c, "#quorum-rule").await?, "two_thirds");
    c.find(Locator::Css("#quorum-rule option[value='half']")).await?.click().await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(".notice.error")).await?;
    wait_value(&c, "#quorum-rule", "two_thirds").await?;
    assert_eq!(chair.state(s.meeting).await?.meeting.quorum, Share::TWO_THIRDS);
    c.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_revoked_session_goes_back_to_the_start_and_says_why() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in_as(&c, &server, s.meeting, s.voters[0].0, &s.voters[0].1).await?;
    // The secretary revokes the delegate's sessions (a lost tablet).
    let secretary = s.sign_in(&s.secretary).await?;
    let a = secretary.post(&format!("/api/meetings/{}/participants/{}/revoke", s.meeting, s.voters[0].0), &json!({})).await?;
    assert_eq!(a.status, 200, "{a:?}");
    // Not "reconnecting" for ever: the start, with the reason.
    wait_text(&c, ".notice.error", "thu hồi").await?;
    let said = text_of(&c, ".notice.error").await?;
    assert!(!said.contains("revoked"), "in Vietnamese, without the server's English: {said:?}");
    c.wait().at_most(WAIT).for_element(Locator::Css(".lobby")).await?;
    assert!(c.find(Locator::Css(".conn")).await.is_err(), "no link shown");
    c.close().await?;
    Ok(())
}

#[tokio::test]
async fn the_secretary_is_asked_before_anything_is_removed_or_opened_up() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let add = Command::AddItem { title: "Phụ lục".into(), presenter: String::new(), summary: String::new(), position: None };
    let extra = ItemId(s.admin.command(s.meeting, "extra", &add).await?.body["result"]["id"].as_i64().unwrap());
    let doc = s
        .upload_document("Tờ trình mật.pdf", tiny_pdf("mật"), &[("confidentiality", "named"), ("readers", &s.chair.0.to_string())])
        .await?;
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in_as(&c, &server, s.meeting, s.secretary.0, &s.secretary.1).await?;
    c.find(Locator::Css("#tab-prepare")).await?.click().await?;
    let state = || async { s.sign_in(&s.secretary).await?.state(s.meeting).await };

    // Each is asked first, with what it concerns; declined, nothing changes.
    let item_remove = format!(".agenda-row[data-item='{}'] button.remove", extra.0);
    let person_remove = format!("tr[data-participant='{}'] button.remove", s.voters[1].0);
    let doc_remove = format!("li[data-document='{}'] button.remove", doc.id.0);
    for (css, named) in [(&item_remove, "Phụ lục"), (&person_remove, "Đại biểu 0001"), (&doc_remove, "Tờ trình mật")] {
        c.wait().at_most(WAIT).for_element(Locator::Css(css)).await?.click().await?;
        let asked = c.get_alert_text().await?;
        assert!(asked.contains(named), "{asked:?}");
        c.dismiss_alert().await?;
    }
    // Opening the restricted document to every participant is asked too;
    // declined, the list still shows what it is.
    let access = format!("li[data-document='{}'] select.access", doc.id.0);
    c.find(Locator::Css(&access)).await?.select_by_value("public").await?;
    assert!(c.get_alert_text().await?.contains("Tờ trình mật"));
    c.dismiss_alert().await?;
    assert_eq!(value_of(&c, &access).await?, "named");
    let st = state().await?;
    assert!(st.item(extra).is_some() && st.participant(s.voters[1].0).is_some());
    assert_eq!(st.document(doc.id).map(|d| d.confidentiality), Some(Confidentiality::Named));

    // A room not set up for state secrets does not offer "Mật" for upload.
    let offered: Vec<String> = serde_json::from_value(
        c.execute("return [...document.querySelectorAll('#upload-form select option')].map(o => o.value);", vec![]).await?,
    )?;
    assert!(offered.contains(&"named".to_string()) && !offered.contains(&"secret".to_string()), "{offered:?}");
    // Accepted, it is done.
    c.find(Locator::Css(&item_remove)).await?.click().await?;
    c.accept_alert().await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    while state().await?.item(extra).is_some() {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the item was not removed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_restricted_to_named_readers_has_them_chosen_first() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let report = s.upload_document("Báo cáo nhân sự.pdf", tiny_pdf("nhân sự"), &[]).await?;
    let other = s.upload_document("Phụ lục.pdf", tiny_pdf("phụ lục"), &[]).await?;
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in_as(&c, &server, s.meeting, s.secretary.0, &s.secretary.1).await?;
    c.find(Locator::Css("#tab-prepare")).await?.click().await?;
    let doc = |id: DocumentId| {
        let s = &s;
        async move { anyhow::Ok(s.sign_in(&s.secretary).await?.state(s.meeting).await?.document(id).cloned().context("no document")?) }
    };
    let row = |id: DocumentId, css: &str| format!("li[data-document='{}'] {css}", id.0);
    let tick = |id: DocumentId, name: &str| {
        format!("//li[@data-document='{}']//fieldset[contains(@class,'readers')]//label[contains(., '{name}')]/input", id.0)
    };

    // Choosing "named" opens the list of readers; nothing changes until it is saved.
    c.find(Locator::Css(&row(report.id, "select.access"))).await?.select_by_value("named").await?;
    c.wait().at_most(WAIT).for_element(Locator::XPath(&tick(report.id, "Đại biểu 0000"))).await?.click().await?;
    assert_eq!(doc(report.id).await?.confidentiality, Confidentiality::Public);
    // A delegate arriving redraws the room's state; the open list and its ticks stay.
    s.sign_in(&s.voters[1]).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(c.find(Locator::XPath(&tick(report.id, "Đại biểu 0000"))).await?.is_selected().await?);
    c.find(Locator::Css(&row(report.id, ".save-readers"))).await?.click().await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    let d = loop {
        let d = doc(report.id).await?;
        if d.confidentiality == Confidentiality::Named {
            break d;
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the access was not saved");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(d.readers, vec![s.voters[0].0]);
    wait_text(&c, &row(report.id, ".doc-readers"), "Đại biểu 0000").await?;
    let reads = |n: usize| {
        let s = &s;
        async move { anyhow::Ok(s.sign_in(&s.voters[n]).await?.state(s.meeting).await?.document(report.id).is_some()) }
    };
    assert!(reads(0).await? && !reads(1).await?);

    // The list is changed later the same way: a second reader is added.
    c.find(Locator::Css(&row(report.id, ".edit-readers"))).await?.click().await?;
    c.wait().at_most(WAIT).for_element(Locator::XPath(&tick(report.id, "Đại biểu 0001"))).await?.click().await?;
    c.find(Locator::Css(&row(report.id, ".save-readers"))).await?.click().await?;
    wait_text(&c, &row(report.id, ".doc-readers"), "Đại biểu 0001").await?;
    assert_eq!(doc(report.id).await?.readers, vec![s.voters[0].0, s.voters[1].0]);
    assert!(reads(1).await?);

    // A room not set up for state secrets does not offer "Mật" here either.
    let offered: Vec<String> = serde_json::from_value(
        c.execute(
            &format!("return [...document.querySelectorAll(\"{}\")].map(o => o.value);", row(other.id, "select.access option")),
            vec![],
        )
        .await?,
    )?;
    assert_eq!(offered, ["public", "members", "named"]);
    // Cancelled, the other document stays public and says so.
    c.find(Locator::Css(&row(other.id, "select.access"))).await?.select_by_value("named").await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(&row(other.id, ".cancel-readers"))).await?.click().await?;
    assert_eq!(value_of(&c, &row(other.id, "select.access")).await?, "public");
    assert!(c.find(Locator::Css(&row(other.id, ".reader-list"))).await.is_err());
    assert_eq!(doc(other.id).await?.confidentiality, Confidentiality::Public);
    c.close().await?;
    Ok(())
}

/// A tablet held upright (one column, the agenda above the reader), signed
/// in as the assembly's first voter through `base` (the room, or a relay).
async fn upright_tablet(base: &str, s: &Assembly) -> anyhow::Result<(Driver, Client)> {
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    c.set_window_size(800, 1000).await?;
    sign_in_at(&c, base, s.meeting, s.voters[0].0, &s.voters[0].1).await?;
    Ok((driver, c))
}

/// The text of the question the page asks once it asks one (an answer from
/// the room may come first), waiting at most [`WAIT`].
async fn alert_text(c: &Client) -> anyhow::Result<String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match c.get_alert_text().await {
            Ok(text) => return Ok(text),
            Err(e) if tokio::time::Instant::now() > deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A browser signed in through `base` as the secretary, on the
/// preparation tab.
async fn secretary_preparing(base: &str, s: &Assembly) -> anyhow::Result<(Driver, Client)> {
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in_at(&c, base, s.meeting, s.secretary.0, &s.secretary.1).await?;
    c.wait().at_most(WAIT).for_element(Locator::Css("#tab-prepare")).await?.click().await?;
    Ok((driver, c))
}

/// The button of a document in the documents list, which opens it in the reader.
fn document_button(id: DocumentId) -> String {
    format!(".document[data-document='{}'] button", id.0)
}

/// How a page of the open document is drawn: the red of the pixel at
/// (`x`, `y`), each a fraction of the page's width and height, or null
/// while the page has no canvas.
async fn pixel(c: &Client, page: u32, x: f64, y: f64) -> anyhow::Result<Option<u64>> {
    let js = "const [page, x, y] = arguments; \
              const k = document.querySelector(`.pdf-page[data-page='${page}'] canvas`); \
              if (!k) { return null; } \
              return k.getContext('2d').getImageData(Math.floor(x * k.width), Math.floor(y * k.height), 1, 1).data[0];";
    Ok(c.execute(js, vec![json!(page), json!(x), json!(y)]).await?.as_u64())
}

/// Waits until page `page` of the open document is drawn as `drawn_pdf`
/// draws it: black inside its square, white outside.
async fn wait_drawn(c: &Client, page: u32) -> anyhow::Result<()> {
    // The square's middle: 150 of 595 points across, (k × 100 + 100) of 842 down.
    let middle_y = (page as f64 * 100.0 + 100.0) / 842.0;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let inside = pixel(c, page, 150.0 / 595.0, middle_y).await?;
        let outside = pixel(c, page, 450.0 / 595.0, middle_y).await?;
        if inside.is_some_and(|r| r < 60) && outside.is_some_and(|r| r > 200) {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "page {page} was never drawn (inside {inside:?}, outside {outside:?}; the viewer says {:?})",
            text_of(c, ".pdf-status").await.ok()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A PDF that asks for a password to open (qpdf, AES-256).
fn password_pdf() -> anyhow::Result<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    let (plain, locked) = (dir.path().join("plain.pdf"), dir.path().join("locked.pdf"));
    std::fs::write(&plain, drawn_pdf(1))?;
    let out = std::process::Command::new("qpdf")
        .args(["--encrypt", "mat-khau", "chu-so-huu", "256", "--"])
        .arg(&plain)
        .arg(&locked)
        .output()
        .map_err(|e| anyhow::anyhow!("qpdf ({e}): install qpdf (scripts/test does)"))?;
    anyhow::ensure!(out.status.success(), "qpdf --encrypt: {}", String::from_utf8_lossy(&out.stderr));
    Ok(std::fs::read(locked)?)
}

/// A document is read in the page on every tablet: pdf.js draws it (Chrome
/// on Android shows no PDF in a frame, Safari on iPad only its first page)
/// page by page, says which page is being read, zooms, stays as it is while
/// the meeting goes on, says why when it cannot show a document, and offers
/// no link that would hand a restricted copy to the tablet's downloads.
/// The window is a tablet held upright (one column, the agenda above the
/// reader).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_is_drawn_in_the_page_with_the_page_being_read_and_zoom() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let open = s.upload_document("Tờ trình số 12.pdf", drawn_pdf(3), &[]).await?;
    let members = s.upload_document("Dự thảo.pdf", drawn_pdf(1), &[("confidentiality", "members")]).await?;
    let named = s
        .upload_document("Báo cáo nhân sự.pdf", drawn_pdf(1), &[("confidentiality", "named"), ("readers", &s.voters[0].0.to_string())])
        .await?;
    let locked = s.upload_document("Phụ lục có mật khẩu.pdf", password_pdf()?, &[]).await?;
    let (_driver, c) = upright_tablet(&server.url(""), &s).await?;
    let document = document_button;

    c.wait().at_most(WAIT).for_element(Locator::Css(&document(open.id))).await?.click().await?;
    wait_text(&c, ".pdf-status", "Trang 1 / 3").await?;
    wait_drawn(&c, 1).await?;
    assert!(c.find(Locator::Css("iframe")).await.is_err(), "no frame left to the browser's own PDF viewer");
    assert!(c.find(Locator::Css(".viewer-bar a")).await.is_ok(), "a public document may be opened on its own");
    // The page read is the one at the top of the reader, wherever the reader sits.
    c.execute("document.querySelector(\".pdf-page[data-page='2']\").scrollIntoView(); return 1;", vec![]).await?;
    wait_text(&c, ".pdf-status", "Trang 2 / 3").await?;
    wait_drawn(&c, 2).await?;
    // Scrolled to the end, the last page is drawn and named.
    c.execute("const r = document.querySelector('.pdf-pages'); r.scrollTop = r.scrollHeight; return 1;", vec![]).await?;
    wait_text(&c, ".pdf-status", "Trang 3 / 3").await?;
    wait_drawn(&c, 3).await?;
    // Zoomed in, the pages grow wider than the reader and are drawn again, finer.
    let width = |c: &Client| {
        let c = c.clone();
        async move {
            let v = c
                .execute(
                    "const r = document.querySelector('.pdf-pages'); const k = r.querySelector('.pdf-page[data-page=\"3\"] canvas'); \
                     return [r.clientWidth, r.querySelector('.pdf-page').clientWidth, k ? k.width : 0];",
                    vec![],
                )
                .await?;
            anyhow::Ok(serde_json::from_value::<[u64; 3]>(v)?)
        }
    };
    let [reader, page_before, canvas_before] = width(&c).await?;
    assert!(page_before <= reader, "{page_before} > {reader}");
    c.find(Locator::Css(".zoom-in")).await?.click().await?;
    c.find(Locator::Css(".zoom-in")).await?.click().await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    let zoomed = loop {
        let [reader, page, canvas] = width(&c).await?;
        if page > reader && canvas > canvas_before {
            break page;
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the zoomed page was not drawn again: {reader} {page} {canvas}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    wait_drawn(&c, 3).await?;

    // The meeting goes on (an item added, the agenda moving): the same
    // reader stays, at its page and zoom, and still answers.
    c.execute("document.querySelector(\".pdf-page[data-page='3']\").dataset.kept = 'yes'; return 1;", vec![]).await?;
    let add = Command::AddItem { title: "Mục bổ sung".into(), presenter: String::new(), summary: String::new(), position: None };
    s.admin.command(s.meeting, "viewer-add", &add).await?;
    s.sign_in(&s.chair).await?.command(s.meeting, "viewer-next", &Command::NextItem { from: None }).await?;
    wait_text(&c, ".agenda", "Mục bổ sung").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kept = c
        .execute("const p = document.querySelector(\".pdf-page[data-page='3']\"); return p ? p.dataset.kept || null : null;", vec![])
        .await?;
    assert_eq!(kept, json!("yes"), "the reader was laid out again after a meeting event");
    assert!(text_of(&c, ".pdf-status").await?.contains("Trang 3 / 3"));
    assert_eq!(width(&c).await?[1], zoomed, "still zoomed");
    c.find(Locator::Css(".zoom-out")).await?.click().await?;
    c.find(Locator::Css(".zoom-out")).await?.click().await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let [reader, page, canvas] = width(&c).await?;
        if page <= reader && canvas > 0 && canvas < canvas_before + 2 {
            break;
        }
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the reader stopped answering: {reader} {page} {canvas}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.execute("document.querySelector('.pdf-pages').scrollTop = 0; return 1;", vec![]).await?;
    wait_text(&c, ".pdf-status", "Trang 1 / 3").await?;
    wait_drawn(&c, 1).await?;

    // Restricted documents (members, named): read here only.
    c.find(Locator::XPath("//li[contains(@class,'agenda-item')][contains(., 'Nghị quyết')]/button[contains(@class,'item-open')]"))
        .await?
        .click()
        .await?;
    for (doc, title) in [(members.id, "Dự thảo"), (named.id, "Báo cáo nhân sự")] {
        c.find(Locator::Css(".close-viewer")).await?.click().await?;
        c.find(Locator::Css(&document(doc))).await?.click().await?;
        wait_text(&c, ".viewer-title", title).await?;
        wait_text(&c, ".pdf-status", "Trang 1 / 1").await?;
        assert!(c.find(Locator::Css(".viewer-bar a")).await.is_err(), "{title}: no link to open it outside the app");
    }
    // A document the viewer cannot open says why.
    c.find(Locator::Css(".close-viewer")).await?.click().await?;
    c.find(Locator::Css(&document(locked.id))).await?.click().await?;
    wait_text(&c, ".pdf-status.error", "Tài liệu được đặt mật khẩu").await?;
    // A document withdrawn while it is read closes, and the reader is told why.
    c.find(Locator::Css(".close-viewer")).await?.click().await?;
    c.find(Locator::Css(&document(named.id))).await?.click().await?;
    wait_text(&c, ".pdf-status", "Trang 1 / 1").await?;
    let removed = s.admin.command(s.meeting, "withdraw-read", &Command::RemoveDocument { document: named.id }).await?;
    assert_eq!(removed.status, 200, "{removed:?}");
    wait_gone(&c, ".viewer").await?;
    wait_text(&c, ".notice", "Tài liệu đang đọc đã được gỡ").await?;
    c.close().await?;
    Ok(())
}

/// A document in Vietnamese as an office's PDF writer makes it (an embedded
/// font that maps back to its characters, as the room's own minutes are
/// written): three pages; "ngân sách" once on page 2 and twice on page 3,
/// once in capitals; "Đề xuất" once, on page 3.
fn vietnamese_pdf() -> anyhow::Result<Vec<u8>> {
    use gavel_server::pdf::{Align, Layout};
    let mut l = Layout::new();
    l.paragraph("TỜ TRÌNH", 16.0, true, Align::Center, 0.0);
    l.paragraph("Về kế hoạch đầu tư công năm 2026 của xã Tân Hòa.", 13.0, false, Align::Left, 0.0);
    l.page_break();
    l.paragraph("I. Căn cứ", 13.0, true, Align::Left, 0.0);
    l.paragraph("Vốn được bố trí từ ngân sách xã và các nguồn hợp pháp khác.", 13.0, false, Align::Left, 0.0);
    l.page_break();
    l.paragraph("II. Đề xuất", 13.0, true, Align::Left, 0.0);
    l.space(300.0);
    l.paragraph("TỔNG NGÂN SÁCH ĐỀ NGHỊ: 12 tỷ đồng.", 13.0, false, Align::Left, 0.0);
    l.paragraph("Phần ngân sách còn lại chuyển sang năm sau.", 13.0, false, Align::Left, 0.0);
    l.render("Tờ trình", "vi")
}

/// The match the reader shows as current: its page and the box around its
/// marks, in points from the page's top-left corner (`size`: the page's).
async fn current_match(c: &Client, (width, height): (f64, f64)) -> anyhow::Result<(u32, [f64; 4])> {
    let js = "const marks = [...document.querySelectorAll('.pdf-hit.current')]; \
              if (!marks.length) { return null; } \
              const f = (m, k) => parseFloat(m.style[k]) / 100; \
              return [Number(marks[0].parentElement.dataset.page), \
                      Math.min(...marks.map(m => f(m, 'left'))), Math.min(...marks.map(m => f(m, 'top'))), \
                      Math.max(...marks.map(m => f(m, 'left') + f(m, 'width'))), Math.max(...marks.map(m => f(m, 'top') + f(m, 'height')))];";
    let v = c.execute(js, vec![]).await?;
    let [page, left, top, right, bottom]: [f64; 5] = serde_json::from_value(v).context("no current match is marked")?;
    Ok((page as u32, [left * width, top * height, right * width, bottom * height]))
}

/// Checks that `mark` covers the words `first` to `last` (the words that
/// follow on their line), within a few points.
fn covers(mark: [f64; 4], words: &[PdfWord], page: u32, first: &str, last: &str) {
    let at = words.iter().position(|w| w.page == page && w.text == first).unwrap_or_else(|| panic!("no {first} on page {page}"));
    let end = words[at..].iter().find(|w| w.text == last).unwrap_or_else(|| panic!("no {last} after {first}"));
    let start = &words[at];
    let [left, top, right, bottom] = mark;
    let near = |a: f64, b: f64| (a - b).abs() < 4.0;
    assert!(near(left, start.x_min) && near(right, end.x_max), "the mark {mark:?} runs across {start:?} to {end:?}");
    assert!(
        top <= start.y_min + 1.0 && bottom >= start.y_max - 1.0 && bottom - top < 2.0 * (start.y_max - start.y_min),
        "the mark {mark:?} is not on the line of {start:?}"
    );
}

/// A delegate finds words in a document: typed without Vietnamese marks and
/// in any case, each match is marked where it is printed, the reader goes
/// to the first and steps through the others; nothing found and a scan
/// with no text say so. A page asked for by number is gone to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delegate_finds_words_typed_without_marks_and_goes_to_a_page() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let pdf = vietnamese_pdf()?;
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("doc.pdf"), &pdf)?;
    let words = pdf_words(&dir.path().join("doc.pdf"))?;
    let size = words.first().map(|w| (w.page_width, w.page_height)).context("no words")?;
    let doc = s.upload_document("Tờ trình đầu tư công.pdf", pdf, &[]).await?;
    let scan = s.upload_document("Bản quét.pdf", drawn_pdf(2), &[]).await?;
    let (_driver, c) = upright_tablet(&server.url(""), &s).await?;
    let open = document_button;
    c.wait().at_most(WAIT).for_element(Locator::Css(&open(doc.id))).await?.click().await?;
    wait_text(&c, ".pdf-status", "Trang 1 / 3").await?;
    wait_drawn_text(&c, 1).await?;

    // Typed without marks, in lower case: the first match is on page 2, and the reader goes there.
    let find = c.find(Locator::Css(".find-text")).await?;
    find.send_keys("ngan sach\u{E007}").await?;
    wait_text(&c, ".find-status", "1 / 3").await?;
    wait_text(&c, ".pdf-status", "Trang 2 / 3").await?;
    let (page, mark) = current_match(&c, size).await?;
    assert_eq!(page, 2);
    covers(mark, &words, 2, "ngân", "sách");
    // The next is printed in capitals on page 3; then the last, then round to the first.
    c.find(Locator::Css(".find-next")).await?.click().await?;
    wait_text(&c, ".find-status", "2 / 3").await?;
    wait_text(&c, ".pdf-status", "Trang 3 / 3").await?;
    let (page, mark) = current_match(&c, size).await?;
    assert_eq!(page, 3);
    covers(mark, &words, 3, "NGÂN", "SÁCH");
    c.find(Locator::Css(".find-next")).await?.click().await?;
    wait_text(&c, ".find-status", "3 / 3").await?;
    covers(current_match(&c, size).await?.1, &words, 3, "ngân", "sách");
    c.find(Locator::Css(".find-next")).await?.click().await?;
    wait_text(&c, ".find-status", "1 / 3").await?;
    wait_text(&c, ".pdf-status", "Trang 2 / 3").await?;
    c.find(Locator::Css(".find-prev")).await?.click().await?;
    wait_text(&c, ".find-status", "3 / 3").await?;
    // Enter again on the same words goes on to the next.
    find.send_keys("\u{E007}").await?;
    wait_text(&c, ".find-status", "1 / 3").await?;
    let marks = c.execute("return document.querySelectorAll('.pdf-hit').length;", vec![]).await?;
    assert!(marks.as_u64().is_some_and(|n| n >= 3), "every match is marked: {marks}");

    // Đ is found from a plain d; a single match leaves nothing to step through.
    find.clear().await?;
    find.send_keys("DE XUAT\u{E007}").await?;
    wait_text(&c, ".find-status", "1 / 1").await?;
    wait_text(&c, ".pdf-status", "Trang 3 / 3").await?;
    covers(current_match(&c, size).await?.1, &words, 3, "Đề", "xuất");
    assert!(!c.find(Locator::Css(".find-next")).await?.is_enabled().await?, "one match: nothing to step to");
    // Words that are not there: said, and no mark is left.
    find.clear().await?;
    find.send_keys("ngân quỹ\u{E007}").await?;
    wait_text(&c, ".find-status", "Không tìm thấy").await?;
    assert_eq!(c.execute("return document.querySelectorAll('.pdf-hit').length;", vec![]).await?, json!(0));

    // A page by its number; past the end, the last.
    let go = c.find(Locator::Css(".go-page")).await?;
    go.send_keys("1\u{E007}").await?;
    wait_text(&c, ".pdf-status", "Trang 1 / 3").await?;
    go.clear().await?;
    go.send_keys("9\u{E007}").await?;
    wait_text(&c, ".pdf-status", "Trang 3 / 3").await?;
    // Searched from page 3, the first match shown is the first on page 3,
    // counted among all of them (the search went round to page 2).
    find.clear().await?;
    find.send_keys("Ngân Sách").await?;
    c.find(Locator::Css(".find-go")).await?.click().await?;
    wait_text(&c, ".find-status", "2 / 3").await?;
    anyhow::ensure!(!text_of(&c, ".find-status").await?.contains('…'), "the search is over");
    covers(current_match(&c, size).await?.1, &words, 3, "NGÂN", "SÁCH");
    assert!(text_of(&c, ".pdf-status").await?.contains("Trang 3 / 3"));
    go.clear().await?;
    go.send_keys("2\u{E007}").await?;
    wait_text(&c, ".pdf-status", "Trang 2 / 3").await?;

    // A scanned document has no text: the reader says so rather than "not found".
    c.find(Locator::Css(".close-viewer")).await?.click().await?;
    c.find(Locator::Css(&open(scan.id))).await?.click().await?;
    wait_text(&c, ".pdf-status", "Trang 1 / 2").await?;
    c.find(Locator::Css(".find-text")).await?.send_keys("ngan sach\u{E007}").await?;
    wait_text(&c, ".find-status", "bản quét").await?;
    c.close().await?;
    Ok(())
}

/// Waits until page `page` of the open document has a canvas with
/// something dark drawn on it (text).
async fn wait_drawn_text(c: &Client, page: u32) -> anyhow::Result<()> {
    let js = "const k = document.querySelector(`.pdf-page[data-page='${arguments[0]}'] canvas`); \
              if (!k) { return false; } \
              const d = k.getContext('2d').getImageData(0, 0, k.width, k.height).data; \
              for (let i = 0; i < d.length; i += 4) { if (d[i] < 100) { return true; } } \
              return false;";
    eventually(
        &format!("page {page} is drawn with text"),
        || async move { Ok(c.execute(js, vec![json!(page)]).await?.as_bool() == Some(true)) },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tablet_browser_says_which_document_the_room_would_not_give() -> anyhow::Result<()> {
    let data = tempfile::tempdir()?;
    let server = TestServer::start_in(data.path(), |_| {}).await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let kept = s.upload_document("Tờ trình.pdf", drawn_pdf(1), &[]).await?;
    let lost = s.upload_document("Phụ lục.pdf", drawn_pdf(2), &[]).await?;
    // The room has lost the second one's content (a disk restored without it).
    std::fs::remove_file(data.path().join("documents").join(&lost.sha256))?;
    let _ = std::fs::remove_file(data.path().join("documents").join(format!("{}.chunks.json", lost.sha256)));
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    c.goto(&agent.local_url().unwrap()).await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(".conn[data-conn='live']")).await?;
    // The delegate sees which document the tablet could not get, and why,
    // before counting on reading it offline.
    let note = |d: DocumentId| format!(".document[data-document='{}'] .not-given", d.0);
    wait_text(&c, &note(lost.id), "chưa nhận được tài liệu này").await?;
    // The room's reason in the page's language, not its English and code.
    let said = text_of(&c, &note(lost.id)).await?;
    assert!(said.contains("hãy báo thư ký tải lên lại") && !said.contains('['), "{said}");
    wait_text(&c, "#tablet-pack .count", "1/2").await?;
    assert!(c.find(Locator::Css(&note(kept.id))).await.is_err(), "a document the tablet holds is said to be missing");
    c.close().await?;
    drop(agent);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tablet_browser_follows_the_meeting_through_the_agent_and_keeps_it_offline() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    s.upload_document("Báo cáo dài.pdf", pack_pdf(3, 512 * 1024, 1, None), &[]).await?;
    let doc = s.upload_document("Tờ trình.pdf", drawn_pdf(3), &[]).await?;
    let cache = tempfile::tempdir()?;
    let agent = start_agent(server.quic_addr, &server.fingerprint, &s, 0, cache.path()).await?;
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    // No sign-in page: the agent signed in for the tablet (the link it gives
    // carries the browser's key).
    c.goto(&agent.local_url().unwrap()).await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(".conn[data-conn='live']")).await?;
    wait_text(&c, "#who-name", "Đại biểu 0000").await?;
    wait_text(&c, "#current-title", "Nghị quyết").await?;
    // The tablet says how much of the pack it holds.
    wait_text(&c, "#tablet-pack", "Tài liệu trên máy").await?;
    wait_text(&c, "#tablet-pack .count", "2/2").await?;
    assert!(c.find(Locator::Css("#tablet-problem")).await.is_err(), "no problem shown while the tablet keeps its documents");
    let add =
        Command::AddItem { title: "Mục qua máy tính bảng".into(), presenter: String::new(), summary: String::new(), position: None };
    s.admin.command(s.meeting, "tablet-add", &add).await?;
    s.sign_in(&s.chair).await?.command(s.meeting, "tablet-next", &Command::NextItem { from: None }).await?;
    wait_text(&c, "#current-title", "Mục qua máy tính bảng").await?;
    // "Sign out" cannot sign the tablet's delegate out: it says so, and the
    // meeting stays (a reload showed it again, as if signed out it was not).
    c.find(Locator::Css("#sign-out")).await?.click().await?;
    wait_text(&c, ".notice", "không đăng xuất tại đây").await?;
    assert!(c.find(Locator::Css(".lobby")).await.is_err(), "the lobby, as if signed out");
    wait_text(&c, "#who-name", "Đại biểu 0000").await?;

    // The room goes away; a reload still shows the meeting from the tablet.
    until("the pack is cached", WAIT, || agent.shared.progress.borrow().complete()).await?;
    // The page fetched the PDF viewer by itself, before anyone read a document.
    let viewer_kept = || {
        std::fs::read_dir(cache.path().join("web")).into_iter().flatten().flatten().any(|d| {
            d.file_name().to_string_lossy().starts_with("pdfjs-")
                && ["pdf.min.mjs", "pdf.worker.min.mjs"].iter().all(|f| d.path().join(f).exists())
        })
    };
    until("the PDF viewer is kept", WAIT, viewer_kept).await?;
    let addrs = server.addrs();
    server.stop().await?;
    until("the agent is offline", WAIT, || agent.shared.link.borrow().is_none()).await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(".conn[data-conn='cached']")).await?;
    c.refresh().await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(".conn[data-conn='cached']")).await?;
    wait_text(&c, "#current-title", "Mục qua máy tính bảng").await?;
    wait_text(&c, "#who-name", "Đại biểu 0000").await?;
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("tablet-offline.png"), c.screenshot().await?)?;
    c.close().await?;
    // A browser with nothing in its own cache (another one on the tablet, or
    // this one after its cache was cleared) reads a document from the
    // tablet alone: the page, pdf.js and the PDF all come from the agent.
    let fresh = browser(&driver).await?;
    fresh.goto(&agent.local_url().unwrap()).await?;
    fresh.wait().at_most(WAIT).for_element(Locator::Css(".conn[data-conn='cached']")).await?;
    fresh
        .find(Locator::XPath("//li[contains(@class,'agenda-item')][contains(., 'Nghị quyết')]/button[contains(@class,'item-open')]"))
        .await?
        .click()
        .await?;
    fresh.wait().at_most(WAIT).for_element(Locator::Css(&document_button(doc.id))).await?.click().await?;
    wait_text(&fresh, ".pdf-status", "Trang 1 / 3").await?;
    wait_drawn(&fresh, 1).await?;
    // Another room (another certificate) answers at the room's address: the
    // tablet says the room refuses it, and goes on showing what it keeps.
    let elsewhere = tempfile::tempdir()?;
    let _other = TestServer::start_again(elsewhere.path(), addrs).await?;
    until("the agent is refused", Duration::from_secs(60), || agent.shared.stuck.borrow().is_some()).await?;
    wait_text(&fresh, "#room-refused", "Phòng họp không nhận máy tính bảng này").await?;
    // Said in Vietnamese, not the agent's English.
    wait_text(&fresh, "#room-refused", "Ở địa chỉ của phòng họp là một máy chủ khác").await?;
    assert!(!text_of(&fresh, "#room-refused").await?.contains("not the one pinned"));
    wait_text(&fresh, ".pdf-status", "Trang 1 / 3").await?;
    fresh.close().await?;
    Ok(())
}

/// A tablet whose storage is full says so where its holder looks: the
/// browser, not only the agent's terminal. The agent runs on a file system
/// of 2.5 MiB (a tmpfs in a mount namespace of the test's own), which holds
/// the web UI and the session but not the 4 MiB document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tablet_whose_storage_is_full_says_so_in_its_browser() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let big = s.upload_document("Báo cáo tài chính.pdf", pack_pdf(16, 256 * 1024, 29, None), &[]).await?;
    let cache = tempfile::tempdir()?;
    let listen = format!("127.0.0.1:{}", std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port());
    let mut cmd = on_small_disk(cache.path(), 5 * 512 * 1024, &workspace_binary("gavel-agent")?);
    cmd.args(s.join_args(0, server.quic_addr, &server.fingerprint, &cache.path().to_string_lossy()))
        .args(["--listen", &listen])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped());
    let mut agent = tokio::process::Command::from(cmd).kill_on_drop(true).spawn()?;
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(agent.stdout.take().expect("stdout")));
    let (link, _) = tokio::time::timeout(WAIT, async {
        while let Some(line) = lines.next_line().await? {
            if line.starts_with("serving ") {
                return served_at(&line);
            }
        }
        anyhow::bail!("the agent ended before serving")
    })
    .await??;
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    c.goto(&link).await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(".conn[data-conn='live']")).await?;
    wait_text(&c, "#tablet-problem", "Máy tính bảng không lưu được tài liệu").await?;
    // The system's English is for the administrator: a tooltip in
    // Vietnamese, said in English.
    assert!(!text_of(&c, "#tablet-problem").await?.contains("No space"));
    let title = c.find(Locator::Css("#tablet-problem")).await?.attr("title").await?.unwrap_or_default();
    assert!(title.contains("No space left on device"), "{title}");
    c.find(Locator::Css("#lang-en")).await?.click().await?;
    wait_text(&c, "#tablet-problem", "No space left on device").await?;
    c.find(Locator::Css("#lang-vi")).await?.click().await?;
    wait_text(&c, "#tablet-pack .count", "0/1").await?;
    std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("tablet-storage-full.png"), c.screenshot().await?)?;
    // The secretary removes the document the tablet cannot keep: the banner
    // goes at once, not at the end of the agent's wait before trying again.
    let removed = s.admin.command(s.meeting, "remove-big", &Command::RemoveDocument { document: big.id }).await?;
    assert_eq!(removed.status, 200, "{removed:?}");
    let gone = async {
        while !c.find_all(Locator::Css("#tablet-problem")).await?.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        anyhow::Ok(())
    };
    tokio::time::timeout(WAIT, gone).await.map_err(|_| anyhow::anyhow!("the banner stayed after the document was removed"))??;
    c.close().await?;
    agent.kill().await?;
    Ok(())
}

#[tokio::test]
async fn the_secretary_sees_a_qr_code_for_tablets_and_cards_carry_a_join_code() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let (_driver, c) = secretary_preparing(&server.url(""), &s).await?;
    let link = c.wait().at_most(WAIT).for_element(Locator::Css(".tablet-join .join-link")).await?.text().await?;
    assert!(link.contains(&format!("gavel://127.0.0.1:{}/?fp={}", server.quic_addr.port(), server.fingerprint)), "{link}");
    assert!(c.find(Locator::Css(".tablet-join .qr svg")).await.is_ok(), "a QR code");

    // A lost tablet: the secretary revokes the delegate's sessions from the same screen.
    let delegate = s.sign_in(&s.voters[0]).await?;
    assert_eq!(delegate.get("/api/session").await?.status, 200);
    let revoke = format!("tr[data-participant='{}'] button.revoke", s.voters[0].0);
    c.find(Locator::Css(&revoke)).await?.click().await?;
    c.accept_alert().await?;
    let deadline = tokio::time::Instant::now() + WAIT;
    while delegate.get("/api/session").await?.status != 401 {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the revoke button did not end the session");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    c.close().await?;
    Ok(())
}

#[tokio::test]
async fn the_chair_is_asked_before_a_move_ends_a_speech_and_invites_who_has_not_asked() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 3).await?;
    let add = Command::AddItem { title: "Báo cáo tài chính".into(), presenter: String::new(), summary: String::new(), position: None };
    let second = ItemId(s.admin.command(s.meeting, "item-2", &add).await?.body["result"]["id"].as_i64().unwrap_or_default());
    let waiting = s.sign_in(&s.voters[1]).await?;
    s.sign_in(&s.voters[2]).await?; // present, and never asks
    let name = |n: usize| format!("Đại biểu {n:04}");
    let driver = chromedriver().await?;
    let chair = browser(&driver).await?;
    let voter = browser(&driver).await?;
    sign_in_as(&chair, &server, s.meeting, s.chair.0, &s.chair.1).await?;
    sign_in_as(&voter, &server, s.meeting, s.voters[0].0, &s.voters[0].1).await?;

    // The delegate asks, the chair gives the floor; the one speaking is not
    // offered "ask to speak".
    voter.wait().at_most(WAIT).for_element(Locator::Css("#ask-to-speak")).await?.click().await?;
    chair.wait().at_most(WAIT).for_element(Locator::Css("#next-speaker")).await?.click().await?;
    wait_text(&voter, "#floor", &name(0)).await?;
    wait_text(&chair, "#spoken", &name(0)).await?;
    wait_gone(&voter, "#ask-to-speak").await?;
    assert!(voter.find(Locator::Css("#withdraw")).await.is_err(), "the one speaking is offered to withdraw");
    assert_eq!(waiting.command(s.meeting, "ask1", &Command::RequestToSpeak).await?.status, 200);
    wait_text(&chair, "#speaker-queue", &name(1)).await?;
    // A request left on the list: only the chair takes it off, and it may
    // be made again.
    wait_text(&voter, "#speaker-queue", &name(1)).await?;
    assert!(voter.find(Locator::Css("#speaker-queue .dismiss")).await.is_err(), "a delegate offered to dismiss a request");
    let row = format!("#speaker-queue li[data-participant='{}'] .dismiss", s.voters[1].0.0);
    chair.find(Locator::Css(&row)).await?.click().await?;
    wait_gone(&chair, "#speaker-queue").await?;
    assert!(waiting.state(s.meeting).await?.speakers.queue.is_empty());
    assert_eq!(waiting.command(s.meeting, "ask1b", &Command::RequestToSpeak).await?.status, 200);
    wait_text(&chair, "#speaker-queue", &name(1)).await?;

    // Nowhere before the first item.
    assert!(!chair.find(Locator::Css("#previous-item")).await?.is_enabled().await?, "'previous' offered on the first item");
    // Moving on is asked first, saying whose speech ends and who waits.
    chair.find(Locator::Css("#next-item")).await?.click().await?;
    let asked = chair.get_alert_text().await?;
    assert!(asked.contains(&name(0)) && asked.contains("đang phát biểu") && asked.contains("1 người đang chờ"), "{asked:?}");
    chair.dismiss_alert().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let st = waiting.state(s.meeting).await?;
    assert_eq!(
        (st.meeting.current_item, st.speakers.floor.map(|f| f.participant)),
        (Some(s.item), Some(s.voters[0].0)),
        "declined, yet moved"
    );
    chair.find(Locator::Css("#next-item")).await?.click().await?;
    chair.accept_alert().await?;
    wait_gone(&voter, "#floor").await?;
    assert_eq!(waiting.state(s.meeting).await?.meeting.current_item, Some(second));
    wait_text(&chair, "#current-title", "Báo cáo tài chính").await?;
    assert!(!chair.find(Locator::Css("#next-item")).await?.is_enabled().await?, "'next' offered on the last item");

    // Nothing under way: the chair steps back without being asked, and
    // invites someone present who never asked to speak.
    chair.find(Locator::Css("#previous-item")).await?.click().await?;
    wait_text(&chair, "#current-title", "Nghị quyết").await?;
    let option = format!("#invite-speaker option[value='{}']", s.voters[2].0.0);
    chair.wait().at_most(WAIT).for_element(Locator::Css(&option)).await?.click().await?;
    chair.find(Locator::Css("#invite")).await?.click().await?;
    wait_text(&voter, "#floor", &name(2)).await?;
    assert_eq!(waiting.state(s.meeting).await?.speakers.floor.map(|f| f.participant), Some(s.voters[2].0));
    // Who spoke on this item before the chair moved on and came back is still shown, in order.
    wait_text(&chair, "#spoken", &format!("{}, {}", name(0), name(2))).await?;
    // The one speaking is not offered again.
    wait_gone(&chair, &option).await?;
    // The chair gives the next speakers three minutes each, from the room.
    chair
        .execute(
            "const e = document.querySelector('#room-speech-limit'); e.value = '3'; e.dispatchEvent(new Event('change', { bubbles: true })); return 1;",
            vec![],
        )
        .await?;
    eventually("the speech limit is three minutes", || async { Ok(waiting.state(s.meeting).await?.meeting.speech_limit_secs == 180) })
        .await?;
    voter.close().await?;
    chair.close().await?;
    Ok(())
}

#[tokio::test]
async fn a_comment_on_the_minutes_is_kept_in_its_field_until_the_room_takes_it() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let chair = s.sign_in(&s.chair).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    assert_eq!(chair.command(s.meeting, "close", &Command::CloseMeeting).await?.status, 200);
    let opening = Command::EditMinutes { section: gavel_shared::minutes::SectionKey::Opening, text: "Khai mạc lúc 8 giờ.".into() };
    assert_eq!(secretary.command(s.meeting, "write", &opening).await?.status, 200);
    assert_eq!(secretary.command(s.meeting, "review", &Command::SendMinutesForComments).await?.status, 200);
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in_as(&c, &server, s.meeting, s.voters[0].0, &s.voters[0].1).await?;
    let field = "#minutes .minutes-section[data-section='opening'] input";
    let send = "#minutes .minutes-section[data-section='opening'] button.send-comment";
    let text = "#minutes .minutes-section[data-section='opening'] .minutes-view";
    c.wait().at_most(WAIT).for_element(Locator::Css(field)).await?;
    wait_text(&c, text, "Khai mạc lúc 8 giờ.").await?;

    // Too long: the room refuses it, and what was typed is still there to shorten.
    let long = format!("Đề nghị bổ sung ý kiến của cử tri. {}", "x".repeat(20_000));
    c.execute(
        "const [css, v] = arguments; const e = document.querySelector(css); e.value = v; e.dispatchEvent(new Event('input', { bubbles: true })); return 1;",
        vec![json!(field), json!(long)],
    )
    .await?;
    c.find(Locator::Css(send)).await?.click().await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(".notice.error")).await?;
    assert_eq!(value_of(&c, field).await?.chars().count(), long.chars().count(), "a refused comment was emptied");

    // Taken: the field empties and the comment is listed.
    c.execute(
        "const [css, v] = arguments; const e = document.querySelector(css); e.value = v; e.dispatchEvent(new Event('input', { bubbles: true })); return 1;",
        vec![json!(field), json!("Đề nghị bổ sung ý kiến của cử tri.")],
    )
    .await?;
    c.find(Locator::Css(send)).await?.click().await?;
    wait_text(&c, "#minutes .comments", "Đề nghị bổ sung ý kiến của cử tri.").await?;
    wait_value(&c, field, "").await?;

    // Signed, then a correction begins: the member keeps the signed files in
    // view while the new version is drafted (the panel used to vanish).
    assert_eq!(chair.command(s.meeting, "approve", &Command::ApproveMinutes).await?.status, 200);
    assert_eq!(chair.command(s.meeting, "sign", &Command::SignMinutes).await?.status, 200);
    wait_text(&c, "#minutes ul.signed", "-vi.pdf").await?;
    // The room's seal is said for what it is: not a legal digital signature.
    wait_text(&c, "#sig-note", "không phải chữ ký số").await?;
    assert_eq!(secretary.command(s.meeting, "revise", &Command::ReviseMinutes).await?.status, 200);
    wait_text(&c, "#minutes-status", "Dự thảo").await?;
    wait_text(&c, "#minutes ul.signed", "-vi.pdf").await?;
    // The draft is the secretary's working text: a member following live
    // shows none of it, as a page loaded now does (it kept the old text).
    assert_eq!(text_of(&c, text).await?, "", "a draft's text shown to a member");
    c.refresh().await?;
    wait_text(&c, "#minutes-status", "Dự thảo").await?;
    assert_eq!(text_of(&c, text).await?, "", "a draft's text shown to a member after a reload");
    // The chair, who approves it, follows the draft.
    let chairs = browser(&driver).await?;
    sign_in_as(&chairs, &server, s.meeting, s.chair.0, &s.chair.1).await?;
    wait_text(&chairs, text, "Khai mạc lúc 8 giờ.").await?;
    chairs.close().await?;
    c.close().await?;
    Ok(())
}

#[tokio::test]
async fn the_secretary_imports_a_csv_excel_saved_on_a_vietnamese_windows() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let (_driver, c) = secretary_preparing(&server.url(""), &s).await?;
    let dir = tempfile::tempdir()?;
    // Windows-1258, as Excel writes "CSV" there: ễ is ê (0xEA) then a
    // combining tilde (0xDE). Read as UTF-8 by the page it would be broken.
    let good = dir.path().join("danh-sach.csv");
    std::fs::write(&good, b"Ho\xf2 v\xe0 t\xean;Vai tro\xcc\nNguy\xea\xden Th\xe0nh \xd0a\xf2t;\xf0a\xf2i bi\xea\xd2u\n")?;
    let file = c.wait().at_most(WAIT).for_element(Locator::Css("#import-file")).await?;
    file.send_keys(&good.to_string_lossy()).await?;
    // Pressed twice before the answer, as on a slow tablet: one import.
    c.execute("const b = document.querySelector('#import'); b.click(); b.click(); return 1;", vec![]).await?;
    let secretary = s.sign_in(&s.secretary).await?;
    eventually("the participant is imported", || async {
        Ok(secretary.state(s.meeting).await?.participants.iter().any(|p| p.name == "Nguyễn Thành Đạt"))
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let named = secretary.state(s.meeting).await?.participants.iter().filter(|p| p.name == "Nguyễn Thành Đạt").count();
    assert_eq!(named, 1, "imported twice");

    // The new PIN card, in the page's language; then closed.
    let card = c.wait().at_most(WAIT).for_element(Locator::Css(".signin-card .card-pin")).await?.text().await?;
    let pin = card.strip_prefix("Mã PIN: ").unwrap_or_default();
    assert!(pin.len() >= 4 && pin.bytes().all(|b| b.is_ascii_digit()), "the card shows no PIN: {card:?}");
    c.find(Locator::Css(".cards-overlay button.secondary")).await?.click().await?;
    // A role the room does not know: said in Vietnamese, with its line.
    let bad = dir.path().join("sai.csv");
    std::fs::write(&bad, "Họ và tên;Vai trò\nLê Văn Bình;Phó Giám đốc\n")?;
    c.find(Locator::Css("#import-file")).await?.send_keys(&bad.to_string_lossy()).await?;
    c.find(Locator::Css("#import")).await?.click().await?;
    wait_text(&c, ".notice.error", "Dòng 2: không nhận ra vai trò \"Phó Giám đốc\"").await?;
    c.close().await?;
    Ok(())
}

/// A PIN reissued whose answer is lost with the link: sent again with the
/// same key, the room answers with what it did, which holds no PIN (it
/// keeps only hashes). The page asks and issues another, shown on a card
/// that signs in; before, it showed a card with a blank PIN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_reissue_whose_answer_was_lost_ends_with_a_card_that_signs_in() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let relay = Relay::start(server.addr).await?;
    let (_driver, c) = secretary_preparing(&relay.url(""), &s).await?;
    let who = s.voters[0].0;
    let reissue = format!("tr[data-participant='{}'] .row-actions button.secondary", who.0);
    c.wait().at_most(WAIT).for_element(Locator::Css(&reissue)).await?;
    relay.mute.store(true, std::sync::atomic::Ordering::SeqCst);
    c.find(Locator::Css(&reissue)).await?.click().await?;
    c.accept_alert().await?;
    // Taken: the old PIN no longer signs in.
    eventually("the reissue reaches the room", || async { Ok(s.sign_in(&s.voters[0]).await.is_err()) }).await?;
    relay.cut_all();

    let asked = alert_text(&c).await.context("never asked about the lost PINs")?;
    assert!(asked.contains("chưa hiện ra"), "{asked:?}");
    c.accept_alert().await?;
    let card = format!(".signin-card[data-participant='{}'] .pin-value", who.0);
    let pin = c.wait().at_most(WAIT).for_element(Locator::Css(&card)).await.context("no card")?.text().await?;
    assert!(!pin.is_empty() && pin.bytes().all(|b| b.is_ascii_digit()), "the card shows no PIN: {pin:?}");
    s.sign_in(&(who, pin)).await.context("the card's PIN does not sign in")?;
    c.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_whose_answer_was_lost_adds_its_people_once_and_shows_new_pin_cards() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let relay = Relay::start(server.addr).await?;
    let (_driver, c) = secretary_preparing(&relay.url(""), &s).await?;
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("danh-sach.csv");
    std::fs::write(&csv, "Họ và tên;Vai trò\nPhan Văn Khải;Đại biểu\n")?;
    c.wait().at_most(WAIT).for_element(Locator::Css("#import-file")).await?.send_keys(&csv.to_string_lossy()).await?;

    // The import reaches the room; its answer, with the only copy of the
    // new PIN, is lost with the link.
    relay.mute.store(true, std::sync::atomic::Ordering::SeqCst);
    c.find(Locator::Css("#import")).await?.click().await?;
    let secretary = s.sign_in(&s.secretary).await?;
    let imported = || async {
        let st = secretary.state(s.meeting).await?;
        anyhow::Ok(st.participants.iter().find(|p| p.name == "Phan Văn Khải").map(|p| p.id))
    };
    eventually("the import reaches the room", || async { Ok(imported().await?.is_some()) }).await?;
    // Cut while still mute, twice: the browser sends a request cut before
    // any answer once more by itself, and that answer is lost too.
    for _ in 0..2 {
        relay.cut.send_modify(|n| *n += 1);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    relay.cut_all();
    wait_text(&c, ".notice.error", "Lỗi mạng").await?;

    // Back on line, the file chosen again (the tab was built anew) and
    // imported again: the room says it was done, its people are added
    // once, and the page, which never saw those PINs, has new ones issued
    // and shows their cards. Before, the file chosen again was a new import
    // and everyone in it was added twice.
    c.wait().at_most(WAIT).for_element(Locator::Css(".conn[data-conn='live']")).await.context("not live again")?;
    c.wait().at_most(WAIT).for_element(Locator::Css("#import-file")).await?.send_keys(&csv.to_string_lossy()).await?;
    c.find(Locator::Css("#import")).await?.click().await?;
    // Asked first: PINs of people in the list may have been printed some other way.
    assert!(alert_text(&c).await?.contains("mã PIN chưa hiện ra"), "not asked before new PINs");
    c.accept_alert().await?;
    let card = c.wait().at_most(WAIT).for_element(Locator::Css(".signin-card .card-pin")).await.context("no card")?.text().await?;
    let pin = card.strip_prefix("Mã PIN: ").unwrap_or_default().to_string();
    assert!(pin.len() >= 4 && pin.bytes().all(|b| b.is_ascii_digit()), "the card shows no PIN: {card:?}");
    let st = secretary.state(s.meeting).await?;
    assert_eq!(st.participants.iter().filter(|p| p.name == "Phan Văn Khải").count(), 1, "imported once");
    // The PIN on the card is the one that signs in.
    let id = imported().await?.expect("imported");
    let mut tablet = server.client();
    assert_eq!(tablet.sign_in(s.meeting, id, &pin).await?.status, 200, "the card's PIN does not sign in");
    c.close().await?;
    Ok(())
}

#[tokio::test]
async fn the_secretary_enters_an_election_ballot_with_as_many_names_as_it_takes() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    s.sign_in(&s.voters[0]).await?; // present
    let chair = s.sign_in(&s.chair).await?;
    let election = Command::CreatePoll {
        item: s.item,
        question: "Bầu Ủy viên Ban Thường trực".into(),
        kind: PollKind::Choice,
        options: vec!["Nguyễn Văn An".into(), "Trần Thị Bình".into(), "Lê Văn Cường".into()],
        max_choices: 2,
        secret: true,
        allow_change: false,
        rule: MajorityRule::default(),
    };
    let poll = PollId(chair.command(s.meeting, "election", &election).await?.body["result"]["id"].as_i64().context("no poll")?);
    assert_eq!(chair.command(s.meeting, "open", &Command::OpenPoll { poll }).await?.status, 200);
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in_as(&c, &server, s.meeting, s.secretary.0, &s.secretary.1).await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(".console details.manual summary")).await?.click().await?;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&format!(".console select.enter-voter option[value='{}']", s.voters[0].0.0)))
        .await?
        .click()
        .await?;
    let name = |n: u8| format!(".console .enter-choices input[value='{n}']");
    let save = c.find(Locator::Css(".console button.enter-ballot")).await?;
    assert!(!save.is_enabled().await?, "saved with no name ticked");
    c.find(Locator::Css(&name(0))).await?.click().await?;
    c.find(Locator::Css(&name(2))).await?.click().await?;
    // Two names is what the ballot takes: the third cannot be ticked.
    assert!(!c.find(Locator::Css(&name(1))).await?.is_enabled().await?, "a third name can be ticked");
    save.click().await?;
    let asked = c.get_alert_text().await?;
    assert!(asked.contains("Nguyễn Văn An, Lê Văn Cường"), "{asked}");
    c.accept_alert().await?;
    eventually("the ballot with both names arrives", || async {
        Ok(chair.state(s.meeting).await?.poll(poll).is_some_and(|p| p.voters.contains(&s.voters[0].0)))
    })
    .await?;
    assert!(c.find(Locator::Css(".notice.error")).await.is_err(), "the room refused the ballot");
    // Secret: the count shows both names taken, once the vote is closed.
    assert_eq!(chair.command(s.meeting, "close", &Command::ClosePoll { poll }).await?.status, 200);
    let counts = chair.state(s.meeting).await?.poll(poll).and_then(|p| p.result.clone()).map(|r| r.counts);
    assert_eq!(counts, Some(vec![1, 0, 1]));
    // One vote each of 3 members, more than half needed: nobody is
    // elected, and the result says so, with the rule in an election's words.
    wait_text(&c, &format!("#verdict-{}", poll.0), "Không ai trúng cử").await?;
    let line = c.find(Locator::Css(&format!(".result[data-poll='{}'] p.muted", poll.0))).await?.text().await?;
    assert!(line.contains("Quá nửa tổng số thành viên"), "{line}");
    c.close().await?;
    Ok(())
}

#[tokio::test]
async fn signed_minutes_are_listed_for_members_and_an_observer_is_told_they_are_for_members() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let (chair, secretary) = (s.sign_in(&s.chair).await?, s.sign_in(&s.secretary).await?);
    s.demote(&secretary, 1, Role::Observer).await?;
    for (who, key, cmd) in
        [(&chair, "close", Command::CloseMeeting), (&chair, "approve", Command::ApproveMinutes), (&chair, "sign", Command::SignMinutes)]
    {
        let a = who.command(s.meeting, key, &cmd).await?;
        assert_eq!(a.status, 200, "{key}: {a:?}");
    }
    let driver = chromedriver().await?;

    // A member: the signed files, saved from within the page.
    let member = browser(&driver).await?;
    sign_in_as(&member, &server, s.meeting, s.voters[0].0, &s.voters[0].1).await?;
    let pdf = member.wait().at_most(WAIT).for_element(Locator::Css("#minutes .signed a.download[href$='-vi.pdf']")).await?;
    member
        .execute(
            "window.saved = []; HTMLAnchorElement.prototype.click = function () { window.saved.push(this.download); }; return 1;",
            vec![],
        )
        .await?;
    pdf.click().await?;
    eventually("the signed PDF is saved", || async {
        let saved = member.execute("return window.saved;", vec![]).await?;
        Ok(saved.as_array().is_some_and(|a| a.iter().any(|n| n.as_str().is_some_and(|n| n.ends_with("-vi.pdf")))))
    })
    .await?;
    member.close().await?;

    // An observer: told, with no link to a file the room would refuse.
    let observer = browser(&driver).await?;
    sign_in_as(&observer, &server, s.meeting, s.voters[1].0, &s.voters[1].1).await?;
    wait_text(&observer, "#signed-members-only", "chỉ dành cho thành viên").await?;
    assert!(observer.find(Locator::Css("#minutes .signed a")).await.is_err(), "an observer is offered the signed files");
    observer.close().await?;
    Ok(())
}

/// On a slow tablet a tap is often given twice. Before, each went to the
/// room: "next item" passed over an item and marked it discussed, "next
/// speaker" took the floor from the first in line at once, and an opinion
/// was recorded twice. What the room would refuse is not offered, and what
/// the chair is typing is not undone by the meeting's events.
#[tokio::test]
async fn a_double_tap_does_one_thing_and_what_the_room_would_refuse_is_not_offered() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let chair = s.http_as(&server, Role::Chair, 0).await?;
    let first = s.http_as(&server, Role::Delegate, 0).await?;
    let second = s.http_as(&server, Role::Delegate, 1).await?;
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in(&c, &server, &s, Role::Chair).await?;
    let twice = |css: &str| format!("const b = document.querySelector(\"{css}\"); b.click(); b.click(); return 1;");
    let settle = || tokio::time::sleep(Duration::from_millis(700));

    // "Next item", twice: the first item, not the second.
    c.wait().at_most(WAIT).for_element(Locator::Css("#next-item")).await?;
    c.execute(&twice("#next-item"), vec![]).await?;
    wait_text(&c, "#current-title", "1. Khai mạc").await?;
    settle().await;
    let st = chair.state(s.meeting).await?;
    assert_eq!(st.meeting.current_item, Some(s.items[0]), "a double tap passed over an item");
    assert_eq!(st.item(s.items[1]).map(|i| i.status), Some(ItemStatus::Pending));

    // The speech limit being typed stays while others ask to speak.
    let limit = "#room-speech-limit";
    c.wait().at_most(WAIT).for_element(Locator::Css(limit)).await?;
    c.execute(&format!("document.querySelector('{limit}').value = '7'; return 1;"), vec![]).await?;
    for (n, who) in [&first, &second].into_iter().enumerate() {
        let a = who.command(s.meeting, &format!("ask-{n}"), &Command::RequestToSpeak).await?;
        assert_eq!(a.status, 200, "{a:?}");
    }
    c.wait().at_most(WAIT).for_element(Locator::Css("#next-speaker")).await?;
    settle().await;
    assert_eq!(value_of(&c, limit).await?, "7", "the meeting's events undid what the chair typed");

    // "Next speaker", twice: the first in line speaks, the second waits.
    c.execute(&twice("#next-speaker"), vec![]).await?;
    eventually("the floor given", || async { Ok(chair.state(s.meeting).await?.speakers.floor.is_some()) }).await?;
    settle().await;
    let st = chair.state(s.meeting).await?;
    assert_eq!(st.speakers.floor.map(|f| f.participant), Some(s.person(Role::Delegate, 0).0));
    assert_eq!(st.speakers.queue, [s.person(Role::Delegate, 1).0], "the second in line was given the floor at once");

    // An opinion sent twice: recorded once.
    let area = "#opinion-form textarea";
    let words = "Đề nghị làm rõ nguồn kinh phí";
    c.wait().at_most(WAIT).for_element(Locator::Css(area)).await?.send_keys(words).await?;
    c.execute(&twice("#opinion-form button[type='submit']"), vec![]).await?;
    wait_value(&c, area, "").await?;
    settle().await;
    let st = chair.state(s.meeting).await?;
    assert_eq!(st.opinions.iter().filter(|o| o.text == words).count(), 1, "an opinion sent twice was recorded twice");

    // A vote being prepared on this item is still there, as typed, when
    // the chair has moved on and comes back to it.
    let question = "Thông qua kế hoạch năm 2027?";
    c.find(Locator::Css(".new-poll summary")).await?.click().await?;
    c.wait().at_most(WAIT).for_element(Locator::Css("#poll-question")).await?.send_keys(question).await?;
    c.find(Locator::Css("#poll-secret")).await?.click().await?;
    assert_eq!(chair.command(s.meeting, "on", &Command::GoToItem { item: s.items[1] }).await?.status, 200);
    wait_text(&c, "#current-title", "2. Báo cáo công tác tuần").await?;
    wait_value(&c, "#poll-question", "").await?;
    c.find(Locator::Css(&format!(".agenda-item[data-item='{}'] .item-open", s.items[0].0))).await?.click().await?;
    wait_value(&c, "#poll-question", question).await?;
    assert_eq!(c.find(Locator::Css("#poll-secret")).await?.prop("checked").await?.as_deref(), Some("true"));

    // Once the meeting is over, no opinions, requests or votes are offered.
    for css in ["#opinion-form", "#request-opinions", ".new-poll"] {
        assert!(c.find(Locator::Css(css)).await.is_ok(), "{css} is offered during the meeting");
    }
    assert_eq!(chair.command(s.meeting, "close", &Command::CloseMeeting).await?.status, 200);
    wait_text(&c, "#meeting-status", "Đã kết thúc").await?;
    for css in ["#opinion-form", "#request-opinions", ".new-poll"] {
        wait_gone(&c, css).await?;
    }
    // And it says why: nobody was asked for opinions on this item.
    wait_text(&c, "#opinions-closed", "Cuộc họp đã bế mạc: chỉ nhận ý kiến bằng văn bản").await?;
    c.close().await?;
    Ok(())
}

/// The secretary's confirmations say what they will do: with nobody
/// ticked, "print cards" replaces everyone's PIN and says so with the
/// count; a reason for an absence left unanswered records nothing. Once
/// the meeting is closed, the preparation offers only what is still taken.
#[tokio::test]
async fn the_secretary_is_told_before_everyones_pin_is_replaced_and_a_cancelled_excuse_records_nothing() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 2).await?;
    let (_driver, c) = secretary_preparing(&server.url(""), &s).await?;
    let before = s.admin.state(s.meeting).await?;
    let seq = before.seq;

    c.wait().at_most(WAIT).for_element(Locator::Css("#print-cards")).await?.click().await?;
    let asked = c.get_alert_text().await?;
    let everyone = before.participants.len();
    assert!(asked.contains("TẤT CẢ") && asked.contains(&format!("({everyone})")), "{asked}");
    c.dismiss_alert().await?;

    let row = format!("tr[data-participant='{}'] td.attendance select", s.voters[1].0.0);
    c.execute(
        "const e = document.querySelector(arguments[0]); e.value = 'excused'; e.dispatchEvent(new Event('change', { bubbles: true })); return 1;",
        vec![json!(row)],
    )
    .await?;
    assert!(c.get_alert_text().await?.contains("Lý do"), "the reason is asked for");
    c.dismiss_alert().await?;
    wait_value(&c, &row, before.participant(s.voters[1].0).unwrap().attendance.as_str()).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.admin.state(s.meeting).await?.seq, seq, "a dismissed question changed the meeting");

    // Once the meeting is closed, its record is fixed: the tab says so and
    // offers no edit the room would refuse, while PINs are still reissued.
    assert!(c.find(Locator::Css("#preparation-fixed")).await.is_err(), "said fixed while preparing");
    let chair = s.sign_in(&s.chair).await?;
    assert_eq!(chair.command(s.meeting, "close", &Command::CloseMeeting).await?.status, 200);
    wait_text(&c, "#preparation-fixed", "Cuộc họp đã kết thúc").await?;
    let person = format!("tr[data-participant='{}']", s.voters[1].0.0);
    for css in [
        "#save-meeting".to_string(),
        "#new-item-title".into(),
        "#upload-item".into(),
        "#add-participant".into(),
        "#import".into(),
        format!("{person} button.remove"),
        format!("{person} td.attendance select"),
        format!("{person} input.voting"),
    ] {
        assert!(!c.find(Locator::Css(&css)).await?.is_enabled().await?, "{css} is offered in a closed meeting");
    }
    let reissue = format!("{person} .row-actions button.secondary");
    assert!(c.find(Locator::Css(&reissue)).await?.is_enabled().await?, "a PIN can no longer be reissued");
    c.find(Locator::Css(&reissue)).await?.click().await?;
    c.accept_alert().await?;
    let card = format!(".signin-card[data-participant='{}'] .pin-value", s.voters[1].0.0);
    let pin = c.wait().at_most(WAIT).for_element(Locator::Css(&card)).await?.text().await?;
    assert!(pin.chars().all(|ch| ch.is_ascii_digit()) && !pin.is_empty(), "{pin:?}");
    c.close().await?;
    Ok(())
}

/// Asked for written opinions by a deadline, a member answers after the
/// meeting has closed; when the deadline passes the form goes by itself,
/// saying why, with no event from the room to prompt it.
#[tokio::test]
async fn the_opinion_form_stays_after_the_close_until_the_deadline() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Assembly::build(&server.url(""), 1).await?;
    let chair = s.sign_in(&s.chair).await?;
    let deadline = time::OffsetDateTime::now_utc() + time::Duration::seconds(25);
    let ask = Command::RequestOpinions { item: s.item, deadline };
    assert_eq!(chair.command(s.meeting, "ask", &ask).await?.status, 200);
    assert_eq!(chair.command(s.meeting, "close", &Command::CloseMeeting).await?.status, 200);
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in_as(&c, &server, s.meeting, s.voters[0].0, &s.voters[0].1).await?;
    c.wait().at_most(WAIT).for_element(Locator::Css("#opinion-form textarea")).await?;
    assert!(c.find(Locator::Css("#opinions-closed")).await.is_err(), "a reason shown while opinions are taken");
    let left = deadline - time::OffsetDateTime::now_utc();
    tokio::time::sleep(left.try_into().unwrap_or_default()).await;
    wait_gone(&c, "#opinion-form").await?;
    wait_text(&c, "#opinions-closed", "Đã hết hạn gửi ý kiến bằng văn bản về nội dung này.").await?;
    c.close().await?;
    Ok(())
}

/// A link to a meeting the room does not have (an old bookmark, a
/// mistyped number): the room refuses to let the page follow it. Before,
/// the page said "connecting" for ever and nothing else. Staff go from a
/// room back to the list of meetings.
#[tokio::test]
async fn a_meeting_the_room_does_not_have_is_said_so() -> anyhow::Result<()> {
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in_admin(&c, &server.url("")).await?;
    c.goto(&server.url("/#/room/999999")).await?;
    c.refresh().await?;
    wait_text(&c, ".notice.error", "Không tìm thấy").await?;
    // Said once, and back to the meetings, not tried again for ever.
    c.wait().at_most(WAIT).for_element(Locator::Css("#new-meeting-title")).await?;
    let hash = c.execute("return location.hash;", vec![]).await?;
    assert_eq!(hash.as_str(), Some("#/"), "{hash:?}");
    // The address changed to a meeting the room has (a link, a bookmark):
    // the page follows it, with no reload asked of the user.
    c.execute(&format!("location.hash = '#/room/{}'; return 1;", s.meeting.0), vec![]).await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(&format!(".agenda-item[data-item='{}']", s.items[0].0))).await?;
    // From the room, back to the meetings' list, no longer following it;
    // what was typed in the minutes a moment before is saved on the way.
    c.find(Locator::Css("#tab-minutes")).await?.click().await?;
    let opening = ".minutes-section[data-section='opening'] textarea";
    c.wait().at_most(WAIT).for_element(Locator::Css(opening)).await?.send_keys("Khai mạc đúng giờ.").await?;
    c.find(Locator::Css("#to-meetings")).await?.click().await?;
    eventually("the minutes typed before leaving are saved", || async {
        let st = s.admin.state(s.meeting).await?;
        Ok(st.minutes.text(gavel_shared::minutes::SectionKey::Opening) == "Khai mạc đúng giờ.")
    })
    .await?;
    c.wait().at_most(WAIT).for_element(Locator::Css("#new-meeting-title")).await?;
    wait_gone(&c, ".agenda-item").await?;
    let hash = c.execute("return location.hash;", vec![]).await?;
    assert_eq!(hash.as_str(), Some("#/"), "{hash:?}");
    // And into it again.
    c.find(Locator::Css(&format!(".meeting[data-meeting='{}'] .go", s.meeting.0))).await?.click().await?;
    c.wait().at_most(WAIT).for_element(Locator::Css(&format!(".agenda-item[data-item='{}']", s.items[0].0))).await?;
    c.close().await?;
    Ok(())
}

/// A command left unanswered in one meeting (queued on its link behind a
/// slow one as the secretary went back to the list) is not sent to the next
/// meeting they open: it was sent again on that meeting's link, and the room
/// applied it there (one meeting's minutes written into another's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_left_unanswered_in_one_meeting_is_not_sent_to_the_next() -> anyhow::Result<()> {
    use gavel_shared::minutes::SectionKey;
    let server = TestServer::start().await?;
    let s = Scenario::build(&server).await?;
    let a = s.admin.post("/api/meetings", &json!({"title": "Họp khác", "starts_at": "2026-11-24T08:00:00+07:00"})).await?;
    let other = MeetingId(a.body["id"].as_i64().with_context(|| format!("{a:?}"))?);
    // A long public document: restricting it checks it first, for seconds.
    let a = s.admin.upload(s.meeting, s.items[0], "Phụ lục rất dài.pdf", pack_pdf(3000, 4096, 11, None), &[]).await?;
    anyhow::ensure!(a.status == 201, "{a:?}");
    let doc: gavel_shared::model::Document = serde_json::from_value(a.body["document"].clone())?;
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in_admin(&c, &server.url("")).await?;
    c.find(Locator::Css(&format!(".meeting[data-meeting='{}'] .go", s.meeting.0))).await?.click().await?;
    c.wait().at_most(WAIT).for_element(Locator::Css("#tab-prepare")).await?.click().await?;
    let access = format!("li[data-document='{}'] select.access", doc.id.0);
    c.wait().at_most(WAIT).for_element(Locator::Css(&access)).await?.select_by_value("members").await?;
    // Behind it on the same link, a section of the minutes, saved on leaving.
    c.find(Locator::Css("#tab-minutes")).await?.click().await?;
    let opening = ".minutes-section[data-section='opening'] textarea";
    c.wait().at_most(WAIT).for_element(Locator::Css(opening)).await?.send_keys("Chỉ của cuộc họp này.").await?;
    c.find(Locator::Css("#to-meetings")).await?.click().await?;
    let text = |m: MeetingId| {
        let admin = &s.admin;
        async move { anyhow::Ok(admin.state(m).await?.minutes.text(SectionKey::Opening).to_string()) }
    };
    c.wait().at_most(WAIT).for_element(Locator::Css(&format!(".meeting[data-meeting='{}'] .go", other.0))).await?.click().await?;
    anyhow::ensure!(text(s.meeting).await?.is_empty(), "the check was too quick: the save was answered before the next meeting opened");
    c.wait().at_most(WAIT).for_element(Locator::Css(".conn[data-conn='live']")).await?;
    // Taken where it was given, once the check is done (which takes its
    // time in a debug build on a busy machine); never in the other.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while text(s.meeting).await? != "Chỉ của cuộc họp này." {
        anyhow::ensure!(tokio::time::Instant::now() < deadline, "the save never reached its own meeting");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(text(other).await?, "", "one meeting's minutes written into another's");
    c.close().await?;
    Ok(())
}

/// Commands the room drops unread for coming too fast (a tablet tapping
/// through the agenda) are sent again, with their keys, until each is
/// answered: the last item tapped is the one the meeting is on, and
/// nothing waits for ever for an answer that was never coming.
#[tokio::test]
async fn commands_the_room_dropped_for_coming_too_fast_go_again() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = TestServer::start_in(dir.path(), |_| {}).await?;
    let s = Scenario::build(&server).await?;
    server.stop().await?;
    // One message a second, two at once: the page's hello takes one.
    let server = TestServer::start_in(dir.path(), |c| c.max_messages_per_second = 1).await?;
    let driver = chromedriver().await?;
    let c = browser(&driver).await?;
    sign_in(&c, &server, &s, Role::Chair).await?;
    let open = |item: ItemId| format!("document.querySelector(\".agenda-item[data-item='{}'] .goto\").click();", item.0);
    c.wait().at_most(WAIT).for_element(Locator::Css(&format!(".agenda-item[data-item='{}'] .goto", s.items[2].0))).await?;
    tokio::time::sleep(Duration::from_secs(3)).await; // the bucket full again
    let taps = format!("{} {} {} return 1;", open(s.items[0]), open(s.items[1]), open(s.items[2]));
    c.execute(&taps, vec![]).await?;
    wait_text(&c, "#current-title", "3. Bế mạc").await?;
    let mut chair = server.client();
    let (id, pin) = s.person(Role::Chair, 0);
    assert_eq!(chair.sign_in(s.meeting, id, &pin).await?.status, 200);
    assert_eq!(chair.state(s.meeting).await?.meeting.current_item, Some(s.items[2]), "the last tap was dropped and never sent again");
    assert!(c.find(Locator::Css(".notice.error")).await.is_err(), "a refusal was shown");
    c.close().await?;
    Ok(())
}
