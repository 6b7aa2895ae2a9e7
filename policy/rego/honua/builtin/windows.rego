# Package honua.builtin.windows denies deployments outside the environment's
# deployment windows, unless the PR carries the emergency label or the
# deployment is a rollback.
package honua.builtin.windows

import data.honua.lib
import data.honua.schedule

deny contains {"rule": "deployment-window", "message": msg} if {
	lib.has_changes
	not schedule.in_window
	not lib.emergency
	not lib.rollback
	msg := sprintf("%s deploys only inside its deployment windows (%s, %s); it is %s now; the next window opens %s", [
		input.environment, schedule.windows_text, schedule.tz,
		schedule.now_local, schedule.next_window_text,
	])
}
