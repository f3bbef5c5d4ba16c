package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/tetratelabs/wazero/api"
	"github.com/urfave/cli/v3"
	"go.bytecodealliance.org/wit"

	"github.com/wazix/wazix/compat"
	"github.com/wazix/wazix/internal/wasmbin"
	"github.com/wazix/wazix/translate"
)

// inspectCommand is `wazix inspect module.wasm [--format text|json|wit]`.
func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show a module's ABI flavour, imports and their status, exports, memories and features",
		ArgsUsage: "module.wasm",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: "text", Usage: "output format: text, json or wit"},
		},
		OnUsageError: usageError,
		Action: func(ctx context.Context, c *cli.Command) error {
			args, err := argsWithTrailingFlags(ctx, c)
			if err != nil {
				return cli.Exit("inspect: "+err.Error(), 2)
			}
			if len(args) != 1 {
				return cli.Exit("inspect: expected one module", 2)
			}
			path := args[0]
			b, err := os.ReadFile(path)
			if err != nil {
				return cli.Exit("inspect: "+err.Error(), 1)
			}
			ins, err := inspectModule(b)
			if err != nil {
				return cli.Exit(fmt.Sprintf("inspect %s: %v", path, err), 1)
			}
			ins.File = path
			w := c.Root().Writer
			if w == nil {
				w = os.Stdout
			}
			switch c.String("format") {
			case "text":
				ins.writeText(w)
			case "json":
				var buf bytes.Buffer
				enc := json.NewEncoder(&buf)
				enc.SetEscapeHTML(false)
				enc.SetIndent("", "  ")
				if err := enc.Encode(ins); err != nil {
					return err
				}
				w.Write(buf.Bytes())
			case "wit":
				fmt.Fprint(w, ins.wit())
			default:
				return cli.Exit(fmt.Sprintf("inspect: unknown --format %q (want text, json or wit)", c.String("format")), 2)
			}
			return nil
		},
	}
}

// Import status under wazix: for a system function wazix defines, its
// status from the compat table (done, partial, ENOSYS, ENOTSUP, traps),
// otherwise one of these.
const (
	statusUnsupported = "unsupported" // no wazix host function matches: the module does not load
	statusHost        = "host"        // not a system import: the embedder provides it
)

type inspectImport struct {
	Module    string `json:"module"`
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Signature string `json:"signature,omitempty"`
	// Status is done, partial, ENOSYS, ENOTSUP or traps (compat.Status,
	// as docs/compat.md lists them), unsupported or host (see above).
	Status string `json:"status"`
	// Note says why a function is not done.
	Note string `json:"note,omitempty"`
	// Translation is what `wazix translate` does with it: keep, preview1,
	// emulated, wrapped or stub.
	Translation string `json:"translation,omitempty"`

	params, results []api.ValueType
}

type inspectMemory struct {
	Imported bool   `json:"imported"`
	Import   string `json:"import,omitempty"`
	Min      uint64 `json:"min_pages"`
	Max      uint64 `json:"max_pages,omitempty"`
	HasMax   bool   `json:"has_max"`
	Shared   bool   `json:"shared"`
	Memory64 bool   `json:"memory64"`
}

type inspectExport struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Signature string `json:"signature,omitempty"`

	params, results []api.ValueType
}

type inspection struct {
	File       string          `json:"file"`
	Flavour    string          `json:"flavour"`
	Generation string          `json:"wasix_generation,omitempty"`
	Threads    bool            `json:"spawns_threads"`
	Imports    []inspectImport `json:"imports"`
	Exports    []inspectExport `json:"exports"`
	Memories   []inspectMemory `json:"memories"`
	Features   []string        `json:"features"`
}

// notableExport reports whether name is an export a WASI/WASIX host looks
// for. (Plain string tests rather than a regexp compiled at start-up: every
// run of the CLI would pay for it.)
func notableExport(name string) bool {
	switch name {
	case "_start", "_initialize", "wasi_thread_start", "__wasm_signal", "memory",
		"__indirect_function_table", "__stack_pointer", "__heap_base", "__data_end",
		"__tls_base", "__wasm_init_tls":
		return true
	}
	return strings.HasPrefix(name, "asyncify_")
}

func inspectModule(b []byte) (*inspection, error) {
	m, err := wasmbin.Parse(b)
	if err != nil {
		return nil, err
	}
	in, err := m.Decode()
	if err != nil {
		return nil, err
	}
	ins := &inspection{Imports: []inspectImport{}, Exports: []inspectExport{}, Memories: []inspectMemory{}}
	// A dry run of the translation gives the exact action per import (some
	// depend on the whole module, e.g. wrapping when fd_dup is emulated);
	// Classify answers import by import when the translation fails.
	var actions []translate.ImportReport
	if _, rep, err := translate.Translate(b, translate.Options{}); err == nil {
		actions = rep.Imports
	}
	var det []compat.Import
	for _, im := range in.Imports {
		if im.Kind == wasmbin.KindFunc {
			ft := in.Types[im.TypeIndex]
			det = append(det, compat.Import{Module: im.Module, Name: im.Name, Params: apiTypes(ft.Params), Results: apiTypes(ft.Results)})
		}
	}
	d := compat.Detect(det)
	wasixGuest := d.Flavour == compat.FlavourWASIX
	funcOrdinal := 0
	for _, im := range in.Imports {
		ii := inspectImport{Module: im.Module, Name: im.Name, Kind: wasmbin.KindName(im.Kind)}
		switch im.Kind {
		case wasmbin.KindFunc:
			ft := in.Types[im.TypeIndex]
			ii.params, ii.results = apiTypes(ft.Params), apiTypes(ft.Results)
			ii.Signature = compat.Signature(ii.params, ii.results)
			ii.Status = statusHost
			if compat.IsSystemModule(im.Module) {
				ii.Status = statusUnsupported
				if f, ok := compat.Find(im.Module, im.Name, ii.params, ii.results); ok {
					st, note := compat.StatusOf(f, wasixGuest)
					ii.Status, ii.Note = string(st), note
				}
			}
			ii.Translation = string(translate.Classify(im.Module, im.Name, ii.params, ii.results))
			if funcOrdinal < len(actions) {
				ii.Translation = string(actions[funcOrdinal].Action)
			}
			funcOrdinal++
		case wasmbin.KindMemory:
			ii.Signature = im.Limits.String()
			ii.Status = statusHost
			ins.Memories = append(ins.Memories, memoryInfo(im.Limits, im.Module+"."+im.Name))
		default:
			ii.Status = statusHost
		}
		ins.Imports = append(ins.Imports, ii)
	}
	for _, l := range in.Memories {
		ins.Memories = append(ins.Memories, memoryInfo(l, ""))
	}
	for _, e := range in.Exports {
		if !notableExport(e.Name) {
			continue
		}
		ie := inspectExport{Name: e.Name, Kind: wasmbin.KindName(e.Kind)}
		if e.Kind == wasmbin.KindFunc {
			if ft, ok := in.FuncType(e.Index); ok {
				ie.params, ie.results = apiTypes(ft.Params), apiTypes(ft.Results)
				ie.Signature = compat.Signature(ie.params, ie.results)
			}
		}
		ins.Exports = append(ins.Exports, ie)
	}
	ins.Flavour = d.Flavour.String()
	if d.WASIThreads {
		ins.Flavour += "+wasi-threads"
	}
	if d.Flavour == compat.FlavourWASIX {
		ins.Generation = d.Generation.String()
	}
	ins.Threads = d.SpawnsThreads
	ins.Features = in.Features.Names()
	if ins.Features == nil {
		ins.Features = []string{}
	}
	return ins, nil
}

func memoryInfo(l wasmbin.Limits, imp string) inspectMemory {
	return inspectMemory{Imported: imp != "", Import: imp, Min: l.Min, Max: l.Max, HasMax: l.HasMax, Shared: l.Shared, Memory64: l.Is64}
}

// apiTypes converts number types; reference and vector types have no
// wazero ValueType equivalent in signatures of system calls and map to 0.
func apiTypes(ts []wasmbin.ValType) []api.ValueType {
	out := make([]api.ValueType, len(ts))
	for i, t := range ts {
		if len(t) == 1 {
			out[i] = t[0]
		}
	}
	return out
}

func (ins *inspection) writeText(w io.Writer) {
	fmt.Fprintf(w, "%s\n", ins.File)
	fl := ins.Flavour
	if ins.Generation != "" {
		fl += " (generation " + ins.Generation + ")"
	}
	fmt.Fprintf(w, "flavour:  %s\n", fl)
	if ins.Threads {
		fmt.Fprintf(w, "threads:  spawns threads\n")
	}
	fmt.Fprintf(w, "features: %s\n", strings.Join(append([]string{"mvp"}, ins.Features...), ", "))
	for _, m := range ins.Memories {
		where := "defined"
		if m.Imported {
			where = "imported " + m.Import
		}
		lim := fmt.Sprintf("min %d pages", m.Min)
		if m.HasMax {
			lim += fmt.Sprintf(", max %d", m.Max)
		}
		if m.Shared {
			lim += ", shared"
		}
		if m.Memory64 {
			lim += ", memory64"
		}
		fmt.Fprintf(w, "memory:   %s (%s)\n", where, lim)
	}
	byModule := map[string][]inspectImport{}
	var modules []string
	for _, im := range ins.Imports {
		if _, ok := byModule[im.Module]; !ok {
			modules = append(modules, im.Module)
		}
		byModule[im.Module] = append(byModule[im.Module], im)
	}
	for _, mod := range modules {
		fmt.Fprintf(w, "imports from %s (%d):\n", mod, len(byModule[mod]))
		for _, im := range byModule[mod] {
			tr := ""
			if im.Translation != "" && im.Translation != string(translate.ActionKeep) {
				tr = "  translate: " + im.Translation
			}
			st := im.Status
			if im.Note != "" {
				st += " (" + im.Note + ")"
			}
			fmt.Fprintf(w, "  %-28s %-34s %-11s%s\n", im.Name, im.Kind+" "+im.Signature, st, tr)
		}
	}
	fmt.Fprintf(w, "exports that matter:\n")
	if len(ins.Exports) == 0 {
		fmt.Fprintf(w, "  (none)\n")
	}
	for _, e := range ins.Exports {
		fmt.Fprintf(w, "  %-28s %s %s\n", e.Name, e.Kind, e.Signature)
	}
}

// wit renders the module's function surface as a WIT world: one inline
// interface per import module, and the notable function exports. Core wasm
// types map to WIT's signed integers and floats; names are made kebab-case
// as WIT requires (fd_write becomes fd-write).
func (ins *inspection) wit() string {
	base := strings.TrimSuffix(filepath.Base(ins.File), filepath.Ext(ins.File))
	pkg := &wit.Package{Name: wit.Ident{Namespace: "wazix", Package: "inspect"}}
	world := &wit.World{Name: witName(base, "module"), Package: pkg,
		Docs: wit.Docs{Contents: "Surface of " + filepath.Base(ins.File) + " (flavour " + ins.Flavour + ")."}}
	pkg.Worlds.Set(world.Name, world)
	ifaces := map[string]*wit.Interface{}
	var order []string
	for _, im := range ins.Imports {
		if im.Kind != "func" {
			continue
		}
		iface, ok := ifaces[im.Module]
		if !ok {
			iface = &wit.Interface{Package: nil}
			ifaces[im.Module] = iface
			order = append(order, im.Module)
		}
		f := witFunc(im.Name, im.params, im.results)
		f.Docs = wit.Docs{Contents: "wazix: " + im.Status + "; translate: " + im.Translation}
		iface.Functions.Set(f.Name, f)
	}
	for _, mod := range order {
		world.Imports.Set(witName(mod, "imports"), &wit.InterfaceRef{Interface: ifaces[mod]})
	}
	for _, e := range ins.Exports {
		if e.Kind != "func" {
			continue
		}
		f := witFunc(e.Name, e.params, e.results)
		world.Exports.Set(f.Name, f)
	}
	return pkg.WIT(nil, "") + "\n"
}

func witFunc(name string, params, results []api.ValueType) *wit.Function {
	f := &wit.Function{Name: witName(name, "f"), Kind: &wit.Freestanding{}}
	for i, t := range params {
		f.Params = append(f.Params, wit.Param{Name: fmt.Sprintf("p%d", i), Type: witType(t)})
	}
	switch len(results) {
	case 0:
	case 1:
		f.Results = []wit.Param{{Type: witType(results[0])}}
	default:
		for i, t := range results {
			f.Results = append(f.Results, wit.Param{Name: fmt.Sprintf("r%d", i), Type: witType(t)})
		}
	}
	return f
}

func witType(t api.ValueType) wit.Type {
	switch t {
	case api.ValueTypeI64:
		return wit.S64{}
	case api.ValueTypeF32:
		return wit.F32{}
	case api.ValueTypeF64:
		return wit.F64{}
	}
	return wit.S32{}
}

// witName makes a WIT identifier: lower-case words joined by '-', each
// starting with a letter.
func witName(s, fallback string) string {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9')
	})
	var out []string
	for _, w := range words {
		if w == "" {
			continue
		}
		if w[0] >= '0' && w[0] <= '9' {
			if len(out) == 0 {
				w = "x" + w
			} else {
				out[len(out)-1] += w
				continue
			}
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		return fallback
	}
	return strings.Join(out, "-")
}
