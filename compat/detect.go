package compat

import (
	"strings"

	"github.com/tetratelabs/wazero/api"
)

// Import is a function import as Detect sees it.
type Import struct {
	Module, Name string
	Params       []api.ValueType
	Results      []api.ValueType
}

// Flavour is the system interface a module was built for.
type Flavour int

const (
	// FlavourNone: the module imports no system interface.
	FlavourNone Flavour = iota
	// FlavourUnstable: WASI preview0 (wasi_unstable).
	FlavourUnstable
	// FlavourPreview1: WASI preview1 only.
	FlavourPreview1
	// FlavourWASIX: at least one wasix_32v1 or wasix_64v1 import (a single one
	// is enough, as wasmer decides; WASIX modules normally import preview1 too).
	FlavourWASIX
)

func (f Flavour) String() string {
	switch f {
	case FlavourNone:
		return "none"
	case FlavourUnstable:
		return "wasi_unstable"
	case FlavourPreview1:
		return "preview1"
	case FlavourWASIX:
		return "wasix"
	}
	return "unknown"
}

// Detection is what Detect found out about a module's imports.
type Detection struct {
	Flavour Flavour
	// Generation is the WASIX ABI generation (meaningful for FlavourWASIX):
	// Generation2022 when any import only exists in that generation.
	Generation Generation
	// WASIX64 is set when the module imports wasix_64v1 (memory64 WASIX).
	WASIX64 bool
	// WASIThreads is set when the module imports wasi.thread-spawn.
	WASIThreads bool
	// SpawnsThreads is set when any thread-creating function is imported
	// (wasi.thread-spawn or any wasix_32v1 thread_spawn form).
	SpawnsThreads bool
	// Unknown lists system imports (from the modules above) whose name or
	// signature is in no table: a host cannot provide them as declared.
	Unknown []Import
}

// String summarises a detection: "wasix (current) + wasi-threads".
func (d Detection) String() string {
	s := d.Flavour.String()
	if d.Flavour == FlavourWASIX {
		if d.WASIX64 {
			s = "wasix64"
		}
		s += " (" + d.Generation.String() + ")"
	}
	if d.WASIThreads {
		s += " + wasi-threads"
	}
	return s
}

// IsSystemModule reports whether imports from this module name belong to a
// system interface that this package describes.
func IsSystemModule(module string) bool {
	switch module {
	case ModulePreview1, ModuleUnstable, ModuleWASIX32, ModuleWASIX64, ModuleWASIThreads:
		return true
	}
	return false
}

// Detect classifies a module by its function imports (name and signature).
func Detect(imports []Import) Detection {
	var d Detection
	var p1, p0, wasix bool
	for _, im := range imports {
		switch im.Module {
		case ModulePreview1:
			p1 = true
		case ModuleUnstable:
			p0 = true
		case ModuleWASIX32:
			wasix = true
		case ModuleWASIX64:
			wasix, d.WASIX64 = true, true
			// The 64-bit tables are not described here (pointer widths differ).
			continue
		case ModuleWASIThreads:
			if im.Name == ThreadSpawn.Name || im.Name == ThreadSpawnOldName {
				d.WASIThreads = true
				d.SpawnsThreads = true
			}
		default:
			continue
		}
		f, ok := Find(im.Module, im.Name, im.Params, im.Results)
		if !ok {
			d.Unknown = append(d.Unknown, im)
			continue
		}
		if f.Generation == Generation2022 {
			d.Generation = Generation2022
		}
		if f.Module == ModuleWASIX32 && strings.HasPrefix(f.Name, "thread_spawn") {
			d.SpawnsThreads = true
		}
	}
	switch {
	case wasix:
		d.Flavour = FlavourWASIX
	case p1:
		d.Flavour = FlavourPreview1
	case p0:
		d.Flavour = FlavourUnstable
	}
	return d
}
