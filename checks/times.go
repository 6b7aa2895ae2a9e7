package checks

import (
	"time"
)

// timeLayout shows a time to people the way a deployment window reads:
// "Tue 10 Mar 09:00 HST". The year is left out: gates open within days.
const timeLayout = "Mon 2 Jan 15:04 MST"

// location is the time zone called tz (an IANA name, as a policy's
// timezone), or UTC when tz is empty or unknown. The policy package embeds
// the time zone database, so names resolve on any machine.
func location(tz string) *time.Location {
	if tz == "" {
		return time.UTC
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC
	}
	return loc
}

// localTime formats t in the zone tz for people.
func localTime(t time.Time, tz string) string {
	return t.In(location(tz)).Format(timeLayout)
}
