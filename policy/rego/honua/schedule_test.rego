package honua.schedule_test

import data.honua.fixtures
import data.honua.schedule

test_window_start_minute_is_inside if {
	schedule.in_window with input as fixtures.at("2026-03-11T19:00:00Z") with data.honua.config as fixtures.config
}

test_minute_before_start_is_outside if {
	not schedule.in_window with input as fixtures.at("2026-03-11T18:59:59Z") with data.honua.config as fixtures.config
}

test_last_minute_is_inside if {
	schedule.in_window with input as fixtures.at("2026-03-12T01:59:59Z") with data.honua.config as fixtures.config
}

test_end_minute_is_outside if {
	not schedule.in_window with input as fixtures.at("2026-03-12T02:00:00Z") with data.honua.config as fixtures.config
}

test_monday_is_outside if {
	not schedule.in_window with input as fixtures.at("2026-03-09T20:00:00Z") with data.honua.config as fixtures.config
}

night := fixtures.env_with({"windows": [{
	"days": ["Friday"], "start": 1320, "end": 120,
	"startTime": "22:00", "endTime": "02:00", "text": "Fri 22:00–02:00",
}]})

test_window_crossing_midnight if {
	# Friday 2026-03-13 22:00 HST = Saturday 08:00 UTC.
	schedule.in_window with input as fixtures.at("2026-03-14T08:00:00Z") with data.honua.config as night
	schedule.in_window with input as fixtures.at("2026-03-14T11:59:00Z") with data.honua.config as night
	not schedule.in_window with input as fixtures.at("2026-03-14T12:00:00Z") with data.honua.config as night
	not schedule.in_window with input as fixtures.at("2026-03-14T07:59:00Z") with data.honua.config as night

	# Saturday 23:00 is not Friday night's window.
	not schedule.in_window with input as fixtures.at("2026-03-15T09:00:00Z") with data.honua.config as night
}

test_no_windows_means_always if {
	schedule.in_window with input as fixtures.at("2026-03-08T03:00:00Z")
		with data.honua.config as fixtures.env_with({"windows": []})
}

test_next_window_from_monday if {
	w := schedule.next_window with input as fixtures.at("2026-03-09T20:00:00Z") with data.honua.config as fixtures.config
	w.at == "2026-03-10T19:00:00Z"
	w.local == "Tue 2026-03-10 09:00 HST"
}

test_next_window_later_today if {
	w := schedule.next_window with input as fixtures.at("2026-03-11T18:00:00Z") with data.honua.config as fixtures.config
	w.at == "2026-03-11T19:00:00Z"
}

test_next_window_after_close_is_tomorrow if {
	w := schedule.next_window with input as fixtures.at("2026-03-12T03:00:00Z") with data.honua.config as fixtures.config
	w.at == "2026-03-12T19:00:00Z"
}

test_no_next_window_inside_a_window if {
	not schedule.next_window with input as fixtures.base with data.honua.config as fixtures.config
}

la := fixtures.env_with({"timezone": "America/Los_Angeles", "windows": [{
	"days": ["Sunday", "Monday"], "start": 540, "end": 600,
	"startTime": "09:00", "endTime": "10:00", "text": "Sun,Mon 09:00–10:00",
}]})

test_dst_spring_forward_day if {
	# 2026-03-08 is the day Los Angeles moves to PDT (UTC-7).
	schedule.in_window with input as fixtures.at("2026-03-08T16:00:00Z") with data.honua.config as la
	not schedule.in_window with input as fixtures.at("2026-03-08T17:00:00Z") with data.honua.config as la
	w := schedule.next_window with input as fixtures.at("2026-03-08T10:00:00Z") with data.honua.config as la
	w.at == "2026-03-08T16:00:00Z"
	w.local == "Sun 2026-03-08 09:00 PDT"
}

test_dst_fall_back_day if {
	# 2026-11-01 is the day Los Angeles returns to PST (UTC-8).
	schedule.in_window with input as fixtures.at("2026-11-01T17:00:00Z") with data.honua.config as la
	not schedule.in_window with input as fixtures.at("2026-11-01T16:59:00Z") with data.honua.config as la
	w := schedule.next_window with input as fixtures.at("2026-10-31T20:00:00Z") with data.honua.config as la
	w.at == "2026-11-01T17:00:00Z"
}

test_blackout_days_are_inclusive if {
	# 2025-12-20 00:00 HST = 10:00 UTC; 2026-01-02 23:59 HST = 2026-01-03 09:59 UTC.
	count(schedule.active_blackouts) == 1 with input as fixtures.at("2025-12-20T10:00:00Z") with data.honua.config as fixtures.config
	count(schedule.active_blackouts) == 1 with input as fixtures.at("2026-01-03T09:59:00Z") with data.honua.config as fixtures.config
	count(schedule.active_blackouts) == 0 with input as fixtures.at("2025-12-20T09:59:00Z") with data.honua.config as fixtures.config
	count(schedule.active_blackouts) == 0 with input as fixtures.at("2026-01-03T10:00:00Z") with data.honua.config as fixtures.config
}

test_next_window_skips_blackout if {
	# Inside the freeze on Tuesday 2025-12-30: the next window is Tuesday 2026-01-06.
	w := schedule.next_window with input as fixtures.at("2025-12-30T20:00:00Z") with data.honua.config as fixtures.config
	w.at == "2026-01-06T19:00:00Z"
}
