# Package honua.schedule reads input.now in the environment's time zone and
# answers the questions of deployment windows and blackout periods. Local
# dates and clocks come from time.date, time.clock and time.weekday with the
# zone, so days on which daylight saving time changes are handled by Go's
# time zone database, never by fixed offsets.
package honua.schedule

import data.honua.lib

now_ns := time.parse_rfc3339_ns(input.now)

tz := lib.env.timezone

days := ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

# minute is the local minute of the day (0..1439); seconds are ignored, so a
# window ending 16:00 is open at 15:59:59 and closed at 16:00:00.
minute := (c[0] * 60) + c[1] if c := time.clock([now_ns, tz])

weekday := time.weekday([now_ns, tz])

date := sprintf("%04d-%02d-%02d", time.date([now_ns, tz]))

# now_local is the current time as people of the environment read it.
now_local := time.format([now_ns, tz, "Mon 2006-01-02 15:04 MST"])

windows := lib.env.windows

yesterday(day) := days[(i + 6) % 7] if {
	some i, d in days
	d == day
}

# in_window is true when now lies inside a deployment window, or when the
# environment defines none. A window is [start, end): its start minute is
# inside, its end minute is not. A window whose end is not after its start
# crosses midnight and belongs to the day it starts on.
in_window if count(windows) == 0

in_window if {
	some w in windows
	open_at(w, weekday, yesterday(weekday), minute)
}

open_at(w, day, _, m) if {
	w.start < w.end
	day in w.days
	w.start <= m
	m < w.end
}

open_at(w, day, _, m) if {
	w.end <= w.start
	day in w.days
	w.start <= m
}

open_at(w, _, prev, m) if {
	w.end <= w.start
	prev in w.days
	m < w.end
}

windows_text := concat("; ", [w.text | some w in windows])

# active_blackouts are the blackout periods whose dates (inclusive, local)
# contain today.
active_blackouts contains b if {
	some b in lib.env.blackouts
	in_blackout(b, date)
}

in_blackout(b, d) if {
	b.startDate <= d
	d <= b.endDate
}

blacked_out(d) if {
	some b in lib.env.blackouts
	in_blackout(b, d)
}

# noon_utc gives noon UTC of a calendar date: adding whole days to it never
# skips or repeats a date, whatever the zone's daylight saving rules.
noon_utc(d) := time.parse_rfc3339_ns(sprintf("%sT12:00:00Z", [d]))

add_days(d, k) := time.format([noon_utc(d) + (k * 86400000000000), "UTC", "2006-01-02"])

# local_ns is the first instant at which the clock of tz shows the given
# local date and minute. The zone's offsets a day before and a day after are
# tried (daylight saving changes are months apart): on the day clocks go
# back, a time shown twice is taken the first time; on the day clocks go
# forward, a time that is skipped is reached when the clock jumps past it.
local_ns(d, m) := t if {
	naive := local_naive(d, m)
	candidates := {c |
		some o in around(naive)
		c := naive - o
		c + offset(c) == naive
	}
	count(candidates) > 0
	t := min(candidates)
} else := t if {
	naive := local_naive(d, m)
	after := offset(naive + 86400000000000)
	before := offset(naive - 86400000000000)
	from := naive - after
	steps := (after - before) / 900000000000
	t := min({c |
		some k in numbers.range(0, steps)
		c := from + (k * 900000000000)
		offset(c) == after
	})
}

local_naive(d, m) := (noon_utc(d) - 43200000000000) + (m * 60000000000)

around(naive) := {offset(naive - 86400000000000), offset(naive + 86400000000000)}

offset(t) := naive - t if {
	naive := time.parse_rfc3339_ns(time.format([t, tz, "2006-01-02T15:04:05Z"]))
}

# blackout_end is the local midnight after the last day of b.
blackout_end(b) := local_ns(add_days(b.endDate, 1), 0)

# blocked is true when the time rules keep a deployment from starting now:
# outside every window without the emergency label, or inside a blackout the
# label may not cross.
blocked if {
	not in_window
	not lib.emergency
	not lib.rollback
}

blocked if {
	some b in active_blackouts
	not emergency_crosses(b)
	not rollback_crosses(b)
}

# rollback_crosses is true when a rollback may go through blackout b: any
# blackout but a strict one.
rollback_crosses(b) if {
	lib.rollback
	not b.strict
}

# emergency_crosses is true when the emergency label lets a deployment through
# blackout b: only if the blackout says so (allowEmergency: true).
emergency_crosses(b) if {
	lib.emergency
	b.allowEmergency
}

# openings_within(n) are the instants (as local date and minute) at which a
# window opens within n days from today, outside every blackout.
openings_within(n) := {[d, w.start] |
	some k in numbers.range(0, n)
	d := add_days(date, k)
	not blacked_out(d)
	wd := time.weekday(noon_utc(d))
	some w in windows
	wd in w.days
	later(k, w.start)
} if count(windows) > 0

openings_within(n) := {[d, 0] |
	some k in numbers.range(1, n)
	d := add_days(date, k)
	not blacked_out(d)
} if count(windows) == 0

later(k, _) if k > 0

later(0, start) if start > minute

next_opening := min(o) if {
	o := openings_within(7)
	count(o) > 0
} else := min(o) if {
	o := openings_within(62)
	count(o) > 0
}

# next_window is when deployments may next begin, when they may not now.
next_window := {
	"at": time.format([t, "UTC", "2006-01-02T15:04:05Z07:00"]),
	"local": time.format([t, tz, "Mon 2006-01-02 15:04 MST"]),
	"timezone": tz,
} if {
	blocked
	t := local_ns(next_opening[0], next_opening[1])
}

next_window_text := sprintf("%s (%s)", [next_window.local, tz]) if next_window

else := "not within the next 62 days"
