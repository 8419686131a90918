//! One translation table: Vietnamese first, English beside it. Error codes
//! from the server (`err.CODE`) are translated here too.

use leptos::prelude::*;

/// The languages of the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    Vi,
    En,
}

const TABLE: &[(&str, &str, &str)] = &[
    ("app.tagline", "Phòng họp không giấy", "Paperless meeting room"),
    ("lobby.title", "Chọn cuộc họp", "Choose a meeting"),
    ("lobby.empty", "Chưa có cuộc họp nào.", "No meetings yet."),
    ("lobby.staff", "Đăng nhập cán bộ (quản trị, thư ký)", "Staff sign-in (administrator, secretary)"),
    ("join.who", "Bạn là ai?", "Who are you?"),
    ("join.pin", "Mã PIN", "PIN"),
    ("prep.pdf_file", "Tệp PDF", "PDF file"),
    ("join.enter", "Vào phòng họp", "Enter the meeting"),
    ("join.back", "Quay lại", "Back"),
    ("join.pick", "Chọn tên của bạn", "Pick your name"),
    ("staff.to_meetings", "← Danh sách cuộc họp", "← Meetings"),
    ("staff.title", "Đăng nhập cán bộ", "Staff sign-in"),
    ("staff.user", "Tên đăng nhập", "User name"),
    ("staff.password", "Mật khẩu", "Password"),
    ("staff.signin", "Đăng nhập", "Sign in"),
    ("staff.meetings", "Các cuộc họp", "Meetings"),
    ("staff.open", "Mở", "Open"),
    ("staff.new_meeting", "Tạo cuộc họp mới", "New meeting"),
    ("staff.create", "Tạo", "Create"),
    ("staff.accounts", "Tài khoản thư ký", "Secretary accounts"),
    ("staff.display_name", "Họ và tên", "Full name"),
    ("staff.add_account", "Thêm tài khoản", "Add account"),
    ("signout", "Đăng xuất", "Sign out"),
    (
        "signout.kept_by_agent",
        "Máy tính bảng này dành cho một đại biểu: ứng dụng Gavel trên máy giữ phiên họp của đại biểu, không đăng xuất tại đây. Muốn giao máy cho người khác, xin báo thư ký.",
        "This tablet is one delegate's: the Gavel app on it keeps their session, which is not signed out here. To hand the tablet to someone else, ask the secretary.",
    ),
    ("conn.live", "Đã kết nối", "Connected"),
    ("conn.connecting", "Đang kết nối…", "Connecting…"),
    ("conn.offline", "Mất kết nối — đang thử lại", "Offline — retrying"),
    ("conn.cached", "Ngoại tuyến — đang xem bản lưu trên máy", "Offline — showing what this tablet holds"),
    ("pack.held", "Tài liệu trên máy", "Documents on this tablet"),
    ("pack.problem", "Máy tính bảng không lưu được tài liệu", "This tablet cannot keep the documents"),
    (
        "link.refused",
        "Phòng họp không nhận máy tính bảng này (đang hiện những gì máy đã lưu; hãy báo thư ký hoặc quản trị)",
        "The room refuses this tablet (showing what it keeps; tell the secretary or the administrator)",
    ),
    (
        "pack.not_given",
        "Máy tính bảng chưa nhận được tài liệu này từ phòng họp",
        "This tablet has not been given this document by the room",
    ),
    ("meeting.title", "Tên cuộc họp", "Meeting title"),
    ("meeting.organisation", "Cơ quan, đơn vị", "Organisation"),
    (
        "meeting.organisation_hint",
        "Dòng 1: cơ quan chủ quản (nếu có), ví dụ UBND QUẬN HOÀN KIẾM\nDòng 2: cơ quan họp, ví dụ PHÒNG TÀI CHÍNH - KẾ HOẠCH",
        "Line 1: the governing body, if any\nLine 2: the organisation holding the meeting",
    ),
    ("meeting.locality", "Địa danh (dòng ngày tháng của biên bản)", "Place name (the minutes' date line)"),
    ("meeting.locality_hint", "Ví dụ: Hòa Bình", "e.g. Hòa Bình"),
    ("meeting.place", "Địa điểm", "Place"),
    ("meeting.starts", "Thời gian bắt đầu", "Starts at"),
    ("time.room_zone", " (giờ Việt Nam)", " (Vietnam time)"),
    ("status.draft", "Đang chuẩn bị", "In preparation"),
    ("status.open", "Đang họp", "In session"),
    ("status.closed", "Đã kết thúc", "Closed"),
    ("agenda", "Chương trình họp", "Agenda"),
    ("agenda.current", "Đang thảo luận", "Under discussion"),
    ("agenda.done", "Đã xong", "Done"),
    ("agenda.pending", "Chưa đến", "Pending"),
    ("agenda.none", "Chưa bắt đầu nội dung nào.", "No item under discussion yet."),
    ("agenda.presenter", "Trình bày", "Presented by"),
    ("agenda.follow", "Theo dõi mục đang họp", "Follow the current item"),
    ("docs", "Tài liệu", "Documents"),
    ("docs.none", "Không có tài liệu.", "No documents."),
    ("docs.open", "Mở tài liệu", "Open document"),
    ("docs.close", "Đóng", "Close"),
    (
        "docs.withdrawn",
        "Tài liệu đang đọc đã được gỡ hoặc không còn dành cho bạn.",
        "The document you were reading was withdrawn or is no longer open to you.",
    ),
    ("docs.page", "Trang", "Page"),
    ("docs.loading", "Đang tải tài liệu…", "Loading the document…"),
    ("docs.zoom_in", "Phóng to", "Zoom in"),
    ("docs.zoom_out", "Thu nhỏ", "Zoom out"),
    ("docs.go_to", "Đến trang", "Go to page"),
    ("docs.go", "Đến", "Go"),
    ("docs.find", "Tìm trong tài liệu", "Find in the document"),
    ("docs.find_next", "Kết quả sau", "Next match"),
    ("docs.find_prev", "Kết quả trước", "Previous match"),
    ("docs.finding", "Đang tìm… trang", "Searching… page"),
    ("docs.find_none", "Không tìm thấy", "Not found"),
    ("docs.find_go", "Tìm", "Find"),
    (
        "docs.find_no_text",
        "Tài liệu không có phần chữ để tìm (có thể là bản quét)",
        "This document has no text to search (it may be a scan)",
    ),
    ("docs.find_unreadable", "Không đọc được phần chữ của tài liệu", "The document's text could not be read"),
    ("conf.public", "Công khai", "Public"),
    ("conf.members", "Thành viên", "Members"),
    ("conf.named", "Người được chỉ định", "Named readers"),
    ("conf.secret", "Mật", "Secret"),
    ("chair.prev", "◀ Mục trước", "◀ Previous"),
    ("chair.next", "Mục tiếp ▶", "Next ▶"),
    ("chair.goto", "Chuyển tới", "Go to"),
    ("chair.open", "Khai mạc (mở phiên họp)", "Open the meeting"),
    ("chair.close", "Bế mạc (kết thúc phiên họp)", "Close the meeting"),
    ("chair.confirm_move", "Chuyển sang nội dung khác?", "Move to another item?"),
    ("chair.move_ends_speech", "đang phát biểu: phần phát biểu sẽ kết thúc.", "has the floor: the speech will end."),
    ("chair.move_clears_queue", "người đang chờ phát biểu: danh sách chờ sẽ được xóa.", "waiting to speak: the list will be cleared."),
    ("chair.move_poll_open", "Biểu quyết vẫn để mở:", "A vote stays open:"),
    ("chair.confirm_close", "Kết thúc phiên họp? Sau đó không thể sửa đổi.", "Close the meeting? Nothing can change afterwards."),
    ("tab.room", "Phòng họp", "Meeting"),
    ("tab.prepare", "Chuẩn bị", "Preparation"),
    ("prep.meeting", "Thông tin cuộc họp", "Meeting details"),
    ("prep.save", "Lưu", "Save"),
    ("prep.agenda", "Chương trình", "Agenda"),
    ("prep.item_title", "Nội dung", "Item"),
    ("prep.presenter", "Người trình bày", "Presenter"),
    ("prep.summary", "Tóm tắt", "Summary"),
    ("prep.add_item", "Thêm nội dung", "Add item"),
    ("prep.remove", "Xóa", "Remove"),
    ("prep.up", "Lên", "Up"),
    ("prep.down", "Xuống", "Down"),
    ("prep.upload", "Tải lên tài liệu (PDF)", "Upload a document (PDF)"),
    ("prep.doc_title", "Tên tài liệu", "Document title"),
    ("prep.confidentiality", "Mức độ", "Access"),
    ("prep.readers", "Người được đọc", "Readers"),
    ("prep.no_readers", "Chỉ người chủ trì và thư ký được đọc", "Only the chair and the secretary may read it"),
    ("prep.edit_readers", "Chọn người được đọc", "Choose readers"),
    ("prep.save_readers", "Lưu danh sách", "Save the list"),
    ("cancel", "Hủy", "Cancel"),
    ("prep.uploading", "Đang tải lên…", "Uploading…"),
    ("prep.participants", "Thành phần tham dự", "Participants"),
    ("prep.name", "Họ và tên", "Full name"),
    ("prep.position", "Chức vụ", "Position"),
    ("prep.role", "Vai trò", "Role"),
    ("prep.member", "Thành viên", "Member"),
    ("prep.voting", "Biểu quyết", "Votes"),
    ("prep.add_participant", "Thêm người", "Add participant"),
    ("prep.import", "Nhập từ tệp CSV", "Import from CSV"),
    ("prep.import_help", "Cột: Họ và tên, Chức vụ, Vai trò, Thành viên, Biểu quyết", "Columns: name, position, role, member, voting"),
    ("prep.cards", "In thẻ đăng nhập (cấp PIN mới)", "Print sign-in cards (new PINs)"),
    ("prep.reset_pin", "Cấp lại PIN", "Reset PIN"),
    (
        "prep.fixed",
        "Cuộc họp đã kết thúc: chương trình, tài liệu và thành phần không sửa được nữa. Vẫn cấp lại PIN, mở khóa đăng nhập và thu hồi phiên được.",
        "The meeting is closed: its agenda, documents and participants are fixed. PINs can still be reissued, sign-ins unlocked and sessions revoked.",
    ),
    (
        "prep.cards_confirm",
        "Cấp mã PIN mới cho những người đã chọn? Mã cũ sẽ hết hiệu lực.",
        "Give the selected people new PINs? Their old PINs stop working.",
    ),
    (
        "prep.cards_confirm_all",
        "Chưa chọn ai: cấp mã PIN mới cho TẤT CẢ người tham dự? Mã cũ sẽ hết hiệu lực, mọi máy tính bảng phải ghép nối lại.",
        "Nobody is selected: give EVERY participant a new PIN? The old ones stop working, and every tablet must be joined again.",
    ),
    ("role.chair", "Chủ trì", "Chair"),
    ("role.secretary", "Thư ký", "Secretary"),
    ("role.delegate", "Đại biểu", "Delegate"),
    ("role.observer", "Khách mời", "Observer"),
    ("prep.unlock", "Mở khóa đăng nhập", "Unlock sign-in"),
    ("prep.unlocked", "Đã mở khóa đăng nhập.", "Sign-in unlocked."),
    ("prep.revoke", "Thu hồi phiên (mất máy)", "Revoke sessions (lost tablet)"),
    (
        "prep.revoke_confirm",
        "Thu hồi mọi phiên đăng nhập của người này? Máy tính bảng của họ sẽ bị ngắt và xóa tài liệu đã lưu. Hãy cấp mã PIN mới nếu thẻ cũng bị mất.",
        "End every session of this person? Their tablet is disconnected and deletes its cached documents. Give them a new PIN if the card was lost too.",
    ),
    ("prep.revoked", "Đã thu hồi các phiên đăng nhập.", "Sessions revoked."),
    ("prep.remove_item_confirm", "Xóa khỏi chương trình họp mục", "Remove from the agenda the item"),
    (
        "prep.remove_doc_confirm",
        "Xóa tài liệu (các máy tính bảng cũng xóa bản đã lưu)",
        "Remove the document (tablets delete their copies too)",
    ),
    ("prep.remove_person_confirm", "Xóa khỏi cuộc họp người tham dự", "Remove from the meeting the participant"),
    ("prep.reset_pin_confirm", "Cấp mã PIN mới (mã cũ hết hiệu lực) cho", "Give a new PIN (the old one stops working) to"),
    ("prep.widen_confirm", "Mở rộng quyền xem tài liệu", "Let more people read the document"),
    ("cards.title", "Thẻ đăng nhập", "Sign-in cards"),
    ("cards.print", "In", "Print"),
    ("cards.scan", "Quét mã để mở trang đăng nhập", "Scan to open the sign-in"),
    ("cards.meeting", "Cuộc họp", "Meeting"),
    ("cards.code", "Mã tham gia trên máy tính bảng", "Tablet join code"),
    ("tablet.title", "Kết nối máy tính bảng", "Join from a tablet"),
    (
        "tablet.help",
        "Trên máy tính bảng, quét mã bằng Gavel Agent (hoặc chạy lệnh bên dưới), nhập mã tham gia in trên thẻ, rồi mở trình duyệt tại http://127.0.0.1:8733/",
        "On the tablet, scan the code with the Gavel agent (or run the command below), enter the join code printed on the sign-in card, then open http://127.0.0.1:8733/ in its browser",
    ),
    ("tablet.fingerprint", "Dấu vân tay chứng chỉ của phòng họp", "The room's certificate fingerprint"),
    ("tablet.no_address", "Không tìm thấy địa chỉ mạng LAN của máy chủ", "No LAN address of the server was found"),
    ("quorum", "Túc số", "Quorum"),
    ("prep.quorum_rule", "Túc số cuộc họp", "Quorum rule"),
    ("quorum.more_than_half", "Quá nửa số thành viên", "More than half of the members"),
    ("quorum.half", "Ít nhất một nửa số thành viên", "At least half of the members"),
    ("quorum.two_thirds", "Ít nhất hai phần ba số thành viên", "At least two thirds of the members"),
    ("prep.speech_limit", "Thời gian mỗi lượt phát biểu (phút, 0 = không giới hạn)", "Minutes per speech (0: no limit)"),
    ("opinion.document", "Về tài liệu", "On the document"),
    ("quorum.holds", "Đủ túc số", "Quorum present"),
    ("quorum.missing", "Chưa đủ túc số", "No quorum"),
    ("quorum.present", "có mặt", "present"),
    ("attendance", "Điểm danh", "Attendance"),
    ("att.present", "Có mặt", "Present"),
    ("att.absent", "Vắng", "Absent"),
    ("att.excused", "Vắng có lý do", "Excused"),
    ("att.reason", "Lý do", "Reason"),
    ("speak", "Phát biểu", "Speakers"),
    ("speak.ask", "Xin phát biểu", "Ask to speak"),
    ("speak.withdraw", "Rút đăng ký phát biểu", "Withdraw"),
    ("speak.queue", "Danh sách chờ", "Waiting"),
    ("speak.none", "Chưa có ai đăng ký.", "Nobody is waiting."),
    ("speak.floor", "Đang phát biểu", "Has the floor"),
    ("speak.give", "Mời phát biểu", "Give the floor"),
    ("speak.dismiss", "Bỏ khỏi danh sách", "Take off the list"),
    ("speak.dismiss_hint", "Người này đã ra ngoài hoặc đã được trả lời", "They stepped out or were answered"),
    ("speak.next", "Mời người tiếp theo", "Next speaker"),
    ("speak.end", "Kết thúc phát biểu", "End the speech"),
    ("speak.over", "Hết giờ", "Time is up"),
    ("speak.invite", "Mời người khác phát biểu", "Invite someone to speak"),
    ("speak.spoken", "Đã phát biểu về nội dung này", "Spoken on this item"),
    ("speak.limit", "Thời gian mỗi lượt, từ lượt sau (phút, 0 = không giới hạn)", "Minutes per speech, from the next one (0: no limit)"),
    ("poll", "Biểu quyết", "Vote"),
    ("poll.new", "Tạo biểu quyết", "New vote"),
    ("poll.question", "Nội dung biểu quyết", "Question"),
    ("poll.secret", "Bỏ phiếu kín", "Secret ballot"),
    ("poll.named", "Biểu quyết công khai", "Named vote"),
    ("poll.allow_change", "Cho phép thay đổi lựa chọn", "Votes may be changed"),
    ("poll.election", "Bầu cử (nhiều lựa chọn)", "Election (several options)"),
    ("poll.options", "Các lựa chọn (mỗi dòng một)", "Options (one a line)"),
    ("poll.max_choices", "Số người được bầu (tối đa mỗi phiếu)", "Seats (names per ballot at most)"),
    ("poll.rule", "Tỷ lệ thông qua", "Majority"),
    ("poll.create", "Tạo", "Create"),
    ("poll.open", "Bắt đầu biểu quyết", "Open the vote"),
    ("poll.close", "Kết thúc biểu quyết", "Close the vote"),
    ("poll.cancel", "Hủy biểu quyết", "Cancel the vote"),
    ("poll.cancel_reason", "Lý do hủy", "Reason for cancelling"),
    ("poll.voted", "đã biểu quyết", "have voted"),
    ("vote.yes", "Tán thành", "In favour"),
    ("vote.no", "Không tán thành", "Against"),
    ("vote.abstain", "Không biểu quyết", "Abstain"),
    ("poll.confirm", "Xác nhận biểu quyết? Phiếu đã gửi không thể thay đổi.", "Cast this vote? It cannot be changed once sent."),
    (
        "poll.confirm_secret",
        "Xác nhận bỏ phiếu kín? Phiếu đã gửi không thể thay đổi.",
        "Cast this secret ballot? It cannot be changed once sent.",
    ),
    ("poll.sending", "Đang gửi phiếu…", "Sending your vote…"),
    (
        "poll.close_confirm",
        "Kết thúc biểu quyết và công bố kết quả? Không thể mở lại.",
        "Close the vote and announce the result? It cannot be reopened.",
    ),
    ("poll.voter", "Đại biểu", "Delegate"),
    ("poll.choice", "Lựa chọn", "Choice"),
    ("poll.at_most", "tối đa", "at most"),
    ("poll.your_vote", "Bạn đã chọn", "You voted"),
    ("poll.recorded", "Đã ghi nhận biểu quyết của bạn", "Your vote is recorded"),
    (
        "poll.secret_recorded",
        "Phiếu kín của bạn đã được ghi nhận (không thể thay đổi)",
        "Your secret ballot is recorded (it cannot be changed)",
    ),
    ("poll.not_voting", "Bạn không có quyền biểu quyết hoặc chưa điểm danh có mặt.", "You do not vote here, or are not marked present."),
    ("poll.passed", "THÔNG QUA", "ADOPTED"),
    ("poll.failed", "KHÔNG THÔNG QUA", "NOT ADOPTED"),
    ("poll.no_quorum", "không đủ túc số", "no quorum"),
    ("poll.none_elected", "Không ai trúng cử", "No one elected"),
    ("poll.tied", "bằng phiếu, bầu lại", "tied, a new round"),
    ("poll.not_in_share", "không tính vào tỷ lệ", "not counted in the shares"),
    ("poll.elected", "Trúng cử", "Elected"),
    ("poll.cancelled", "Đã hủy", "Cancelled"),
    ("poll.draft", "Chuẩn bị", "Prepared"),
    ("poll.ballots", "Số phiếu", "Ballots"),
    ("poll.needed", "cần", "needed"),
    ("poll.base", "trên", "of"),
    ("poll.by_secretary", "do thư ký nhập", "entered by the secretary"),
    ("poll.enter_for", "Nhập phiếu hộ", "Enter a vote for"),
    ("poll.enter_confirm", "Nhập phiếu này cho đại biểu?", "Enter this vote for the delegate?"),
    ("poll.hands", "Nhập kết quả giơ tay", "Enter a show of hands"),
    (
        "poll.hands_election",
        "Bầu nhiều người bằng giơ tay: mọi đại biểu có quyền biểu quyết có mặt lúc đếm mà chưa bỏ phiếu được tính là đã biểu quyết, và không được bỏ phiếu trên máy tính bảng nữa.",
        "An election of several seats by show of hands: every voter in the room at the count who had not voted counts as having voted, and votes on no tablet after.",
    ),
    ("poll.results", "Kết quả", "Result"),
    ("opinion", "Ý kiến bằng văn bản", "Written opinions"),
    ("opinion.write", "Gửi ý kiến", "Send an opinion"),
    ("opinion.text", "Nội dung ý kiến", "Your opinion"),
    ("opinion.unsent", "Ý kiến chưa gửi ở mục:", "Unsent opinion on:"),
    ("opinion.stance", "Quan điểm", "Stance"),
    ("stance.agree", "Đồng ý", "Agree"),
    ("stance.disagree", "Không đồng ý", "Disagree"),
    ("stance.agree_with_comments", "Đồng ý, có góp ý", "Agree with comments"),
    ("stance.comment", "Góp ý", "Comment"),
    ("opinion.request", "Xin ý kiến các thành viên", "Ask members for opinions"),
    ("opinion.deadline", "Hạn trả lời", "Deadline"),
    ("opinion.answered", "Đã trả lời", "Answered"),
    ("opinion.waiting", "Chưa trả lời", "Not yet answered"),
    ("opinion.remote", "từ xa", "remote"),
    ("join.remote", "Tôi không có mặt tại phòng họp (gửi ý kiến từ xa)", "I am not in the room (sending opinions from afar)"),
    ("display", "Màn hình phòng họp", "Room display"),
    ("display.make", "Tạo mã cho màn hình phòng họp", "Set up a room display"),
    (
        "display.help",
        "Mở địa chỉ này trên máy chiếu (dùng một lần, trong 10 phút)",
        "Open this address on the projector (once, within 10 minutes)",
    ),
    ("tab.minutes", "Biên bản", "Minutes"),
    ("min.title", "Biên bản cuộc họp", "Minutes of the meeting"),
    ("min.number", "Số, ký hiệu", "Number and symbol"),
    ("min.opening", "Mở đầu", "Opening"),
    ("min.conclusion", "Kết luận", "Conclusion"),
    ("min.recipients", "Nơi nhận", "Recipients"),
    (
        "prep.pins_lost",
        "Mã PIN mới đã được cấp nhưng chưa hiện ra (mất kết nối). Cấp lại mã PIN mới cho những người này để in thẻ?",
        "New PINs were issued but never showed (the link dropped). Issue new ones for the same people, to print their cards?",
    ),
    (
        "prep.import_pins_lost",
        "Danh sách này đã được nhập nhưng mã PIN chưa hiện ra (mất kết nối). Cấp mã PIN mới cho những người trong danh sách?",
        "This list was imported but its PINs never showed (the link dropped). Issue new PINs for the people in it?",
    ),
    (
        "min.signed_members_only",
        "Biên bản đã được phát hành; bản tải về chỉ dành cho thành viên cuộc họp.",
        "The minutes are issued; their files are for the meeting's members.",
    ),
    ("min.recipients_hint", "- Lưu: VT, hồ sơ.", "- File: office, meeting record."),
    (
        "min.help",
        "Mỗi dòng là một đoạn văn; dòng bắt đầu bằng \"- \" là gạch đầu dòng; **chữ đậm**.",
        "Each line is a paragraph; lines starting with \"- \" are list items; **bold**.",
    ),
    ("min.status.draft", "Dự thảo", "Draft"),
    ("min.status.in_review", "Đang lấy ý kiến thành viên", "With the members for comments"),
    ("min.status.approved", "Đã được chủ trì phê duyệt", "Approved by the chair"),
    ("min.status.signed", "Đã chốt, phát hành", "Final, issued"),
    ("min.version", "Phiên bản", "Version"),
    ("min.send", "Gửi thành viên lấy ý kiến", "Send to the members for comments"),
    ("min.approve", "Phê duyệt biên bản", "Approve the minutes"),
    ("min.sign", "Chốt và phát hành", "Finalise and issue"),
    ("min.revise", "Đính chính (tạo phiên bản mới)", "Correct (new version)"),
    ("min.take_back", "Đưa về dự thảo để chỉnh sửa (tiếp thu góp ý)", "Back to the draft to edit (work in the comments)"),
    ("min.in_vi", "tiếng Việt", "Vietnamese"),
    ("min.in_en", "tiếng Anh", "English"),
    ("min.comment", "Góp ý cho phần này", "Comment on this part"),
    ("min.comments", "Góp ý", "Comments"),
    ("min.export", "Tải về (bản hiện tại)", "Download (as it stands)"),
    ("min.signed_files", "Các bản đã phát hành", "Issued versions"),
    // The room seals each issued file with its own key (a check that the
    // file is the one it issued): not a chữ ký số under the law, which takes
    // a licensed certificate. Said so, next to the files.
    (
        "min.sig_note",
        "Tệp .sig là mã kiểm tra của phòng họp (xác nhận tệp đúng bản đã phát hành), không phải chữ ký số theo quy định; thư ký và chủ tọa ký tay trên bản in.",
        "Each .sig file is the room's check that the file is the one it issued, not a legal digital signature; the secretary and the chair sign the printed copy by hand.",
    ),
    (
        "min.after_close",
        "Gửi lấy ý kiến, phê duyệt và phát hành sau khi bế mạc.",
        "Sending, approving and issuing come after the meeting closes.",
    ),
    ("yes", "Có", "Yes"),
    ("no", "Không", "No"),
    ("done", "Đã lưu", "Saved"),
    ("err.unauthorized", "Hãy đăng nhập.", "Please sign in."),
    ("err.bad_credentials", "Sai mã PIN hoặc tên đăng nhập.", "Wrong PIN or user name."),
    (
        "err.bad_display_code",
        "Mã màn hình không đúng, đã hết hạn hoặc đã dùng: hãy xin thư ký mã mới.",
        "This display code is wrong, expired or already used: ask the secretary for a new one.",
    ),
    ("err.forbidden", "Bạn không có quyền làm việc này.", "You may not do this."),
    ("err.wrong_status", "Không thể làm việc này ở trạng thái hiện tại của cuộc họp.", "Not possible in the meeting's current state."),
    ("err.not_found", "Không tìm thấy.", "Not found."),
    ("err.too_many_attempts", "Nhập sai mã PIN quá nhiều lần: hãy đợi rồi thử lại.", "Too many wrong PINs: wait, then try again."),
    (
        "err.sign_in_locked",
        "Đăng nhập đã bị khóa do nhập sai mã PIN nhiều lần: hãy nhờ thư ký mở khóa.",
        "Sign-in is locked after too many wrong PINs: ask the secretary to unlock it.",
    ),
    ("err.revoked", "Phiên đăng nhập đã bị thu hồi.", "This session was revoked."),
    (
        "err.offline",
        "Chưa kết nối được với phòng họp: hãy thử lại khi có kết nối.",
        "The room cannot be reached: try again when the link is back.",
    ),
    ("err.invalid", "Dữ liệu chưa hợp lệ.", "Invalid input."),
    ("err.conflict", "Xung đột với dữ liệu hiện có.", "Conflicts with what exists."),
    ("err.not_a_pdf", "Tệp không phải là PDF.", "The file is not a PDF."),
    ("err.too_large", "Tệp quá lớn.", "The file is too large."),
    ("err.too_large_limit", "Tệp quá lớn: tối đa", "The file is too large: at most"),
    ("err.bad_csv", "Tệp CSV có lỗi.", "The CSV file has an error."),
    (
        "err.disk_full",
        "Ổ đĩa của máy chủ phòng họp đã đầy; việc vừa làm chưa được ghi. Hãy báo quản trị giải phóng dung lượng rồi thử lại.",
        "The room's disk is full; nothing was saved. Ask the administrator to free space, then try again.",
    ),
    (
        "err.method_not_allowed",
        "Ứng dụng gửi yêu cầu không đúng cách: hãy tải lại trang.",
        "The app sent a request the room does not take: reload the page.",
    ),
    (
        "err.incomplete_body",
        "Dữ liệu gửi lên bị ngắt giữa chừng (mạng chập chờn); chưa có gì được ghi. Hãy gửi lại.",
        "What was sent was cut short (the network dropped); nothing was saved. Send it again.",
    ),
    ("err.network", "Lỗi mạng.", "Network error."),
    (
        "err.internal",
        "Máy chủ phòng họp gặp lỗi; việc vừa làm chưa được ghi. Hãy thử lại.",
        "The room's server failed; nothing was saved. Try again.",
    ),
    (
        "err.unavailable",
        "Máy chủ phòng họp đang khởi động lại hoặc tạm dừng: hãy thử lại sau giây lát.",
        "The room's server is restarting or busy: try again in a moment.",
    ),
    (
        "err.too_many_connections",
        "Thiết bị này đang mở quá nhiều kết nối tới phòng họp.",
        "This device holds too many connections to the room.",
    ),
    ("err.rate_limited", "Thao tác quá nhanh: hãy chậm lại.", "Too many actions at once: slow down."),
    (
        "err.tablet_assigned",
        "Máy tính bảng này đã được cấp cho một đại biểu khác: hãy đăng nhập trên máy của mình hoặc liên hệ thư ký.",
        "This tablet is assigned to another participant: sign in on your own tablet, or ask the secretary.",
    ),
    (
        "err.unstampable",
        "Không thể đóng dấu bản sao cho tài liệu này (tệp PDF bị hỏng hoặc được bảo vệ).",
        "This document cannot be stamped (the PDF is damaged or protected).",
    ),
    (
        "err.file_missing",
        "Phòng họp không còn tệp của tài liệu này: hãy báo thư ký tải lên lại.",
        "The room no longer has this document's file: ask the secretary to upload it again.",
    ),
    ("err.pdf_password", "Tài liệu được đặt mật khẩu nên không mở được.", "The document is password-protected and cannot be opened."),
    ("err.pdf_invalid", "Tệp PDF bị hỏng, không đọc được.", "The PDF is damaged and cannot be read."),
    ("err.pdf_unreadable", "Không hiển thị được tài liệu này.", "This document cannot be shown."),
    (
        "err.viewer_too_old",
        "Trình duyệt của máy này quá cũ để hiển thị tài liệu: cần Chrome 103, Safari 16.4 (iPadOS 16.4) hoặc mới hơn.",
        "This browser is too old to show documents: Chrome 103, Safari 16.4 (iPadOS 16.4) or later is needed.",
    ),
    (
        "err.viewer_failed",
        "Trình xem tài liệu không khởi động được: hãy tải lại trang.",
        "The document viewer did not start: reload the page.",
    ),
    ("err.weak_password", "Mật khẩu quá yếu: dùng ít nhất 8 ký tự.", "The password is too weak: use at least 8 characters."),
    ("err.bad_upload", "Tệp tải lên không đọc được: hãy chọn lại tệp.", "The upload could not be read: pick the file again."),
    ("err.stale_version", "Tài liệu vừa có phiên bản mới: hãy mở lại.", "The document has a newer version: open it again."),
    (
        "err.malformed_message",
        "Ứng dụng gửi dữ liệu sai định dạng: hãy tải lại trang.",
        "The app sent a malformed message: reload the page.",
    ),
    (
        "err.message_too_large",
        "Nội dung quá dài để gửi một lần: hãy chia thành nhiều phần.",
        "Too long to send at once: split it into several parts.",
    ),
    (
        "err.unsupported_version",
        "Trang này cũ hơn máy chủ phòng họp: hãy tải lại trang.",
        "This page is older than the room's server: reload the page.",
    ),
    ("err.malformed_json", "Ứng dụng gửi dữ liệu sai định dạng: hãy tải lại trang.", "The app sent a malformed message: reload the page."),
    (
        "err.wrong_room",
        "Ở địa chỉ của phòng họp là một máy chủ khác (chứng chỉ khác với chứng chỉ đã ghép nối).",
        "Another server answers at the room's address (not the certificate the tablet was paired with).",
    ),
    (
        "err.agent_version",
        "Phần mềm trên máy tính bảng không cùng phiên bản với phòng họp: hãy cập nhật.",
        "The tablet's software does not speak the room's version: update it.",
    ),
    (
        "err.pin_needed",
        "Phiên làm việc đã hết hạn: hãy ghép nối lại máy tính bảng bằng mã PIN.",
        "The session has ended: pair the tablet again with its PIN.",
    ),
    ("err.not_json", "Ứng dụng gửi dữ liệu không phải JSON: hãy tải lại trang.", "The app did not send its data as JSON: reload the page."),
    ("err.bad_key", "Ứng dụng gửi mã thao tác không hợp lệ: hãy tải lại trang.", "The app sent an invalid action key: reload the page."),
    (
        "err.hello_first",
        "Kết nối với phòng họp chưa sẵn sàng: hãy đợi một chút rồi thử lại.",
        "The link to the room is not ready yet: wait a moment, then try again.",
    ),
    (
        "err.already_following",
        "Kết nối này đang theo dõi một cuộc họp: hãy tải lại trang.",
        "This connection already follows a meeting: reload the page.",
    ),
    (
        "err.unknown_message",
        "Máy chủ phòng họp không hiểu thông điệp này: hãy tải lại trang.",
        "The room's server does not understand this message: reload the page.",
    ),
    (
        "err.not_websocket",
        "Trình duyệt không mở được kết nối trực tiếp với phòng họp: hãy dùng trình duyệt mới hơn.",
        "The browser could not open a live link to the room: use a newer browser.",
    ),
    (
        "err.signed_in_by_agent",
        "Máy tính bảng tự đăng nhập cho trình duyệt này: không cần đăng nhập lại.",
        "The tablet agent signs in for this browser: no need to sign in again.",
    ),
    (
        "err.unknown_command",
        "Máy chủ phòng họp không biết thao tác này: hãy tải lại trang.",
        "The room's server does not know this action: reload the page.",
    ),
];

/// Codes whose words say it all: the server's detail (in English) is left
/// out in Vietnamese. For the others (what was invalid, what it conflicts
/// with) the detail is the substance, and stays.
const WHOLE: &[&str] = &[
    "unauthorized",
    "bad_credentials",
    "bad_display_code",
    "forbidden",
    "wrong_status",
    "not_found",
    "too_many_attempts",
    "sign_in_locked",
    "revoked",
    "offline",
    "not_a_pdf",
    "too_large",
    "network",
    "internal",
    "unavailable",
    "too_many_connections",
    "rate_limited",
    "tablet_assigned",
    "unstampable",
    "file_missing",
    "disk_full",
    "incomplete_body",
    "weak_password",
    "bad_upload",
    "stale_version",
    "malformed_message",
    "malformed_json",
    "message_too_large",
    "unknown_command",
    "not_json",
    "wrong_room",
    "agent_version",
    "pin_needed",
    "bad_key",
    "hello_first",
    "already_following",
    "unknown_message",
    "not_websocket",
    "signed_in_by_agent",
    "pdf_password",
    "pdf_invalid",
    "pdf_unreadable",
    "viewer_too_old",
    "viewer_failed",
];

/// The UI language, in context.
#[derive(Debug, Clone, Copy)]
pub struct I18n(pub RwSignal<Lang>);

impl I18n {
    /// The text for `key` in the current language (reactive).
    pub fn t(&self, key: &str) -> &'static str {
        let lang = self.0.get();
        lookup(lang, key)
    }

    /// A number with `decimals` places, as the language writes it: a
    /// decimal comma and a thousands dot in Vietnamese ("1.234,5").
    pub fn number(&self, value: f64, decimals: usize) -> String {
        gavel_shared::text::number(value, decimals, self.0.get() == Lang::Vi)
    }

    /// A size in bytes, in KB or MB as the language writes numbers.
    pub fn size(&self, bytes: u64) -> String {
        const MB: f64 = 1024.0 * 1024.0;
        match bytes as f64 {
            b if b >= MB => format!("{} MB", self.number(b / MB, if b >= 10.0 * MB { 0 } else { 1 })),
            b => format!("{} KB", self.number((b / 1024.0).ceil(), 0)),
        }
    }

    /// A server error in the current language, with the server's detail.
    pub fn error(&self, code: &str, message: &str) -> String {
        let key = format!("err.{code}");
        let lang = self.0.get();
        // Too large: said with the room's limit ("… larger than the limit of 104857600 bytes").
        if code == "too_large"
            && let Some(limit) = message.split_whitespace().find_map(|w| w.parse::<u64>().ok())
        {
            return format!("{} {}.", lookup(lang, "err.too_large_limit"), self.size(limit));
        }
        // A refusal whose reason the rules give in Vietnamese: that reason.
        if lang == Lang::Vi
            && let Some(reason) = gavel_shared::rules::reason_vi(message)
        {
            return reason.into_owned();
        }
        match TABLE.iter().find(|(k, _, _)| *k == key) {
            Some(_) if lang == Lang::Vi && WHOLE.contains(&code) => lookup(lang, &key).to_string(),
            Some(_) if message.is_empty() => lookup(lang, &key).to_string(),
            Some(_) => format!("{} ({message})", lookup(lang, &key)),
            // A code this page does not know: said generally, in the user's language.
            None => match lang {
                Lang::Vi => format!("Không thực hiện được ({code})."),
                Lang::En => format!("{message} ({code})"),
            },
        }
    }
}

/// The text for `key` in `lang`; the key itself when missing.
pub fn lookup(lang: Lang, key: &str) -> &'static str {
    match TABLE.iter().find(|(k, _, _)| *k == key) {
        Some((_, vi, en)) => match lang {
            Lang::Vi => vi,
            Lang::En => en,
        },
        None => TABLE.iter().find(|(k, _, _)| *k == "err.not_found").map(|_| "?").unwrap_or("?"),
    }
}

thread_local! {
    static GLOBAL: std::cell::Cell<Option<I18n>> = const { std::cell::Cell::new(None) };
}

/// Makes `i` the app's language setting (see [`use_i18n`]).
pub fn set_global(i: I18n) {
    GLOBAL.with(|g| g.set(Some(i)));
}

/// The app's language setting; works in event handlers too.
pub fn use_i18n() -> I18n {
    GLOBAL.with(|g| g.get()).expect("the app is mounted")
}
