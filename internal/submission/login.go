package submission

import (
	"errors"

	"github.com/emersion/go-sasl"
)

// loginServer is the server side of the LOGIN mechanism, which go-sasl
// lacks and Outlook and older phones still use. LOGIN has no RFC of its
// own (draft-murchison-sasl-login): the server asks "Username:" and then
// "Password:" as base64 challenges (go-smtp encodes them), and the client
// answers each with the value. An initial response, when sent with the
// AUTH command, is the username.
type loginServer struct {
	check    func(username, password string) error
	username string
	step     int
}

// newLoginServer returns a LOGIN server that calls check once both values
// are in.
func newLoginServer(check func(username, password string) error) sasl.Server {
	return &loginServer{check: check}
}

var errLoginState = errors.New("sasl LOGIN: unexpected response")

func (l *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch l.step {
	case 0:
		l.step = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 1:
		l.username = string(response)
		l.step = 2
		return []byte("Password:"), false, nil
	case 2:
		l.step = 3
		return nil, true, l.check(l.username, string(response))
	default:
		return nil, false, errLoginState
	}
}
