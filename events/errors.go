package events

import (
	"errors"
	"fmt"
)

// Code classifies an error so that an edge (the HTTP layer, the ops tool)
// can map it to a status in one place. The set is deliberately small.
type Code string

const (
	CodeInvalid      Code = "invalid"      // the input is wrong; retrying will not help
	CodeNotFound     Code = "not_found"    // the thing named does not exist
	CodeConflict     Code = "conflict"     // a concurrent change won; reload and retry
	CodeDuplicate    Code = "duplicate"    // the same event (by id) is already recorded
	CodeUnauthorized Code = "unauthorized" // no valid credentials
	CodeForbidden    Code = "forbidden"    // credentials valid, action not allowed
	CodeTooLarge     Code = "too_large"    // the request exceeds a documented limit
	CodeTooMany      Code = "too_many"     // a rate limit was reached; retry after a while
	CodeUnavailable  Code = "unavailable"  // a dependency is down; retry later
	CodeInternal     Code = "internal"     // a bug or an unexpected failure
)

// Error is the one error type of onebook's domain. Message is safe to show to
// a client; Err carries internal detail for logs only.
type Error struct {
	Code    Code
	Field   string // the offending input field, if any (JSON path like "payload.gate")
	Message string
	Err     error
}

func (e *Error) Error() string {
	var s string
	switch {
	case e.Field != "":
		s = fmt.Sprintf("%s: %s: %s", e.Code, e.Field, e.Message)
	default:
		s = fmt.Sprintf("%s: %s", e.Code, e.Message)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrConflict) and friends match any *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Field == "" && t.Err == nil && t.Code == e.Code
}

// Sentinels for errors.Is. They carry only a code.
var (
	ErrInvalid     = &Error{Code: CodeInvalid}
	ErrNotFound    = &Error{Code: CodeNotFound}
	ErrConflict    = &Error{Code: CodeConflict}
	ErrDuplicate   = &Error{Code: CodeDuplicate}
	ErrUnavailable = &Error{Code: CodeUnavailable}
)

// Invalid reports bad input in field.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Errorf builds an *Error with the given code.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err, CodeInternal for errors that are not *Error.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
