package emit

import (
	"unsafe"

	"github.com/tcptop/tcptop/internal/conn"
)

// None is the format that writes nothing: -o none, for a tcptop that
// only serves metrics (--listen). It is not among Formats, the formats
// that write.
const None = "none"

// noneWriter takes every record and writes nothing.
type noneWriter struct{}

func (noneWriter) Begin(Tick) error { return nil }
func (noneWriter) End() error       { return nil }

func (noneWriter) record(unsafe.Pointer) error { return nil }

func (noneWriter) Row(*conn.Row) error { return nil }
