package config

import (
	"gopkg.in/yaml.v3"
)

// saturated is the count and height of a node graph that never ends (an
// alias inside its own anchor) or is too large to count.
const saturated = int64(1) << 62

// expansion measures what a YAML node graph becomes when every alias is
// followed, without building it: how many values (as the decoder counts
// them) and how deep. Anchored nodes are measured once and remembered, so
// the cost follows the size of the graph, not of its expansion: an alias
// bomb of a few hundred bytes that expands to billions of values is
// measured in microseconds.
type expansion struct {
	memo map[*yaml.Node]measure
	busy map[*yaml.Node]bool
	// biggest is the alias whose target expands to the most values, first
	// in document order among equals: where an alias bomb is reported.
	biggest      *yaml.Node
	biggestCount int64
}

type measure struct{ count, height int64 }

func add(a, b int64) int64 {
	if a >= saturated-b {
		return saturated
	}
	return a + b
}

// measure returns the values n expands to, counted the way decoder.value
// counts them (every node visited, aliases included; the key of a mapping
// entry is not a value, a merge key's mapping is), and its height.
func (e *expansion) measure(n *yaml.Node) measure {
	if n == nil {
		return measure{}
	}
	if n.Anchor != "" {
		if m, ok := e.memo[n]; ok {
			return m
		}
		if e.busy[n] {
			return measure{saturated, saturated}
		}
		if e.busy == nil {
			e.busy = map[*yaml.Node]bool{}
			e.memo = map[*yaml.Node]measure{}
		}
		e.busy[n] = true
		defer delete(e.busy, n)
	}
	m := measure{count: 1, height: 1}
	child := func(c measure) {
		m.count = add(m.count, c.count)
		m.height = max(m.height, add(c.height, 1))
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) > 0 {
			c := e.measure(n.Content[0])
			m = measure{add(c.count, 1), c.height}
		}
	case yaml.AliasNode:
		c := e.measure(n.Alias)
		child(c)
		if c.count > e.biggestCount {
			e.biggest, e.biggestCount = n, c.count
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			child(e.measure(c))
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				for _, mn := range mergedMaps(v) {
					child(e.measure(mn))
				}
				continue
			}
			child(e.measure(v))
		}
	}
	if n.Anchor != "" {
		e.memo[n] = m
	}
	return m
}

// mergedMaps returns the mappings a merge key ("<<: *base" or
// "<<: [*a, *b]") brings in, aliases resolved, as decoder.merge reads them.
func mergedMaps(v *yaml.Node) []*yaml.Node {
	src := v
	for src.Kind == yaml.AliasNode && src.Alias != nil {
		src = src.Alias
	}
	switch src.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{src}
	case yaml.SequenceNode:
		out := make([]*yaml.Node, 0, len(src.Content))
		for _, c := range src.Content {
			for c.Kind == yaml.AliasNode && c.Alias != nil {
				c = c.Alias
			}
			out = append(out, c)
		}
		return out
	}
	return nil
}

// deepest follows the deepest path from n down to depth levels and returns
// the node there (or the last node of the path): where nesting that is too
// deep is reported.
func (e *expansion) deepest(n *yaml.Node, depth int) *yaml.Node {
	for ; depth > 1 && n != nil; depth-- {
		var next *yaml.Node
		best := int64(-1)
		consider := func(c *yaml.Node) {
			if h := e.measure(c).height; h > best {
				next, best = c, h
			}
		}
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				consider(c)
			}
		case yaml.AliasNode:
			consider(n.Alias)
		case yaml.MappingNode:
			for i := 1; i < len(n.Content); i += 2 {
				consider(n.Content[i])
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}
