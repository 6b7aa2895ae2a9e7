# Package honua.builtin.blackout denies deployments on the days of a blackout
# period (startDate to endDate inclusive, in the environment's time zone). A
# rollback crosses a blackout unless the blackout is strict.
package honua.builtin.blackout

import data.honua.lib
import data.honua.schedule

deny contains {"rule": "blackout", "message": msg} if {
	lib.has_changes
	some b in schedule.active_blackouts
	not schedule.emergency_crosses(b)
	not schedule.rollback_crosses(b)
	ends := time.format([schedule.blackout_end(b), schedule.tz, "Mon 2006-01-02 15:04 MST"])
	msg := sprintf("%s is in blackout period %q (%s to %s%s); it ends %s (%s); the next window opens %s", [
		input.environment, b.name, b.startDate, b.endDate, reason(b),
		ends, schedule.tz, schedule.next_window_text,
	])
}

reason(b) := sprintf(": %s", [b.reason]) if b.reason != ""

else := ""
