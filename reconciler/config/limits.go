package config

// Limits bound what the loader accepts from a config repository, so that
// hostile or broken input gets a clear error instead of exhausting memory.
type Limits struct {
	// MaxFileSize is the largest file read, in bytes.
	MaxFileSize int64
	// MaxFiles is the most files a config tree may hold.
	MaxFiles int
	// MaxDepth is the deepest nesting of mappings and sequences in a file.
	MaxDepth int
	// MaxNodes bounds the values one file may expand to, aliases included,
	// which defuses "billion laughs" alias bombs.
	MaxNodes int
	// MaxValues bounds the values all the config files of a repository
	// expand to together: many files just under MaxNodes would otherwise
	// add up to gigabytes.
	MaxValues int
}

// DefaultLimits are the limits of the loader when none are given.
var DefaultLimits = Limits{
	MaxFileSize: 1 << 20,
	MaxFiles:    100_000,
	MaxDepth:    100,
	MaxNodes:    1_000_000,
	MaxValues:   5_000_000,
}

// OrDefault returns l with its zero fields filled from DefaultLimits.
func (l Limits) OrDefault() Limits { return l.orDefault() }

// orDefault fills zero fields from DefaultLimits.
func (l Limits) orDefault() Limits {
	if l.MaxFileSize <= 0 {
		l.MaxFileSize = DefaultLimits.MaxFileSize
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = DefaultLimits.MaxFiles
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultLimits.MaxDepth
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = DefaultLimits.MaxNodes
	}
	if l.MaxValues <= 0 {
		l.MaxValues = DefaultLimits.MaxValues
	}
	return l
}
