package wasmbin

import "sort"

// The "name" custom section (appendix of the core spec, plus the extended
// name proposal). Subsections that are indexed by function index are decoded
// so they can follow a renumbering; all others are kept as raw bytes.
const (
	nameModule    = 0
	nameFunctions = 1
	nameLocals    = 2
	nameLabels    = 3
)

type nameEntry struct {
	index uint32
	name  string
}

type indirectEntry struct {
	index uint32
	raw   []byte // the inner name map, encoded
}

type nameSubsection struct {
	id       byte
	raw      []byte
	direct   []nameEntry     // subsection 1
	indirect []indirectEntry // subsections 2 and 3
}

type nameSection struct {
	subs []nameSubsection
}

func decodeNames(s *Section) (*nameSection, error) {
	r := newReader(s.Payload, s.Offset)
	ns := &nameSection{}
	for !r.done() {
		id, _ := r.byte("name subsection id")
		size, err := r.u32("name subsection size")
		if err != nil {
			return nil, err
		}
		raw, err := r.bytes(int(min(size, 1<<31)), "name subsection")
		if err != nil {
			return nil, err
		}
		sub := nameSubsection{id: id, raw: raw}
		sr := newReader(raw, r.base+r.pos-len(raw))
		switch id {
		case nameFunctions:
			if sub.direct, err = sr.nameMap(); err != nil {
				return nil, err
			}
		case nameLocals, nameLabels:
			n, err := sr.count(2, "indirect name map count")
			if err != nil {
				return nil, err
			}
			for i := 0; i < n; i++ {
				idx, err := sr.u32("function index")
				if err != nil {
					return nil, err
				}
				start := sr.pos
				if _, err := sr.nameMap(); err != nil {
					return nil, err
				}
				sub.indirect = append(sub.indirect, indirectEntry{index: idx, raw: sr.buf[start:sr.pos]})
			}
		default:
			ns.subs = append(ns.subs, sub)
			continue
		}
		if !sr.done() {
			return nil, sr.errorf("name subsection %d: %d bytes left over", id, sr.len())
		}
		ns.subs = append(ns.subs, sub)
	}
	return ns, nil
}

func (r *reader) nameMap() ([]nameEntry, error) {
	n, err := r.count(2, "name map count")
	if err != nil {
		return nil, err
	}
	out := make([]nameEntry, 0, n)
	for i := 0; i < n; i++ {
		idx, err := r.u32("name index")
		if err != nil {
			return nil, err
		}
		name, err := r.name("name")
		if err != nil {
			return nil, err
		}
		out = append(out, nameEntry{idx, name})
	}
	return out, nil
}

func (ns *nameSection) funcNames() map[uint32]string {
	out := map[uint32]string{}
	for _, sub := range ns.subs {
		if sub.id == nameFunctions {
			for _, e := range sub.direct {
				out[e.index] = e.name
			}
		}
	}
	return out
}

// changes reports whether mapIndex moves any function this section names.
func (ns *nameSection) changes(mapIndex func(uint32) uint32) bool {
	for _, sub := range ns.subs {
		for _, e := range sub.direct {
			if mapIndex(e.index) != e.index {
				return true
			}
		}
		for _, e := range sub.indirect {
			if mapIndex(e.index) != e.index {
				return true
			}
		}
	}
	return false
}

// remap renumbers the function-indexed subsections and adds names for new
// functions. Entries that collide after mapping keep the first name; maps are
// re-sorted because the spec requires increasing indices.
func (ns *nameSection) remap(mapIndex func(uint32) uint32, add map[uint32]string) {
	hasFuncs := false
	for i := range ns.subs {
		sub := &ns.subs[i]
		switch sub.id {
		case nameFunctions:
			hasFuncs = true
			seen := map[uint32]bool{}
			var out []nameEntry
			for _, e := range sub.direct {
				n := mapIndex(e.index)
				if !seen[n] {
					seen[n] = true
					out = append(out, nameEntry{n, e.name})
				}
			}
			for idx, name := range add {
				if !seen[idx] {
					seen[idx] = true
					out = append(out, nameEntry{idx, name})
				}
			}
			sort.Slice(out, func(a, b int) bool { return out[a].index < out[b].index })
			sub.direct = out
		case nameLocals, nameLabels:
			seen := map[uint32]bool{}
			var out []indirectEntry
			for _, e := range sub.indirect {
				n := mapIndex(e.index)
				if !seen[n] {
					seen[n] = true
					out = append(out, indirectEntry{n, e.raw})
				}
			}
			sort.Slice(out, func(a, b int) bool { return out[a].index < out[b].index })
			sub.indirect = out
		}
	}
	if !hasFuncs && len(add) > 0 {
		var out []nameEntry
		for idx, name := range add {
			out = append(out, nameEntry{idx, name})
		}
		sort.Slice(out, func(a, b int) bool { return out[a].index < out[b].index })
		sub := nameSubsection{id: nameFunctions, direct: out}
		// The function subsection follows the module name subsection.
		at := 0
		for at < len(ns.subs) && ns.subs[at].id == nameModule {
			at++
		}
		ns.subs = append(ns.subs[:at], append([]nameSubsection{sub}, ns.subs[at:]...)...)
	}
}

func (ns *nameSection) encode() []byte {
	var out []byte
	for _, sub := range ns.subs {
		var body []byte
		switch sub.id {
		case nameFunctions:
			body = appendU32(body, uint32(len(sub.direct)))
			for _, e := range sub.direct {
				body = appendU32(body, e.index)
				body = appendName(body, e.name)
			}
		case nameLocals, nameLabels:
			body = appendU32(body, uint32(len(sub.indirect)))
			for _, e := range sub.indirect {
				body = appendU32(body, e.index)
				body = append(body, e.raw...)
			}
		default:
			body = sub.raw
		}
		out = append(out, sub.id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out
}
