-- The place name of the minutes' date line ("Hà Nội, ngày … tháng … năm …"):
-- the locality of Decree 30/2020/ND-CP, which is not the meeting room.
ALTER TABLE meetings ADD COLUMN locality TEXT NOT NULL DEFAULT '';
