package command

// usages are the syntax of each command.
var usages = map[string]string{
	Plan:     "/plan",
	Approve:  "/approve [environment]",
	Reject:   "/reject [environment] reason",
	Rollback: "/rollback [environment] [--to SHA]",
	Help:     "/help",
}

// Usage returns the syntax of a command ("/approve [environment]"), or ""
// for a name that is not one.
func Usage(name string) string { return usages[name] }

// HelpText is the App's answer to /help, and the end of its answer to a
// malformed command (Markdown).
const HelpText = "Commands (on the first line of a comment; people with write access only):\n\n" +
	"- `/plan`: plan the pull request again.\n" +
	"- `/approve [environment]`: approve the deployment to the environment (the one waiting for approval when there is only one).\n" +
	"- `/reject [environment] reason`: reject it, saying why (the reason may go on the next lines).\n" +
	"- `/rollback [environment] [--to SHA]`: after the merge, deploy again what ran before this pull request (or the earlier deployed commit SHA).\n" +
	"- `/help`: this list.\n"
