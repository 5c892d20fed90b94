package cli

import (
	"errors"
	"reflect"

	"github.com/alecthomas/kong"

	"github.com/tcptop/tcptop/internal/privs"
)

// userMapper reads --user, refusing an empty one: --user ” (or
// TCPTOP_USER= from a template whose value went missing) would
// otherwise leave tcptop running as root without a word.
type userMapper struct{}

func (userMapper) Decode(ctx *kong.DecodeContext, target reflect.Value) error {
	s, err := popValue(ctx, "user")
	if err != nil {
		return err
	}
	if s == "" {
		return errors.New("an empty user (want USER or USER:GROUP, each a name or a number)")
	}
	target.SetString(s)
	return nil
}

// lookupUser finds --user's account before anything is loaded: one that
// does not exist is a usage error. No --user is nil.
func lookupUser(spec string) (*privs.User, error) {
	if spec == "" {
		return nil, nil
	}
	u, err := privs.LookupUser(spec)
	if err != nil {
		return nil, usageError{Err: err}
	}
	return u, nil
}
