package submission_test

import (
	"encoding/base64"

	"github.com/emersion/go-sasl"
)

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// loginClient is the client side of AUTH LOGIN for go-smtp's client.
type loginClient struct{ user, pass string }

var _ sasl.Client = loginClient{}

func (l loginClient) Start() (string, []byte, error) { return "LOGIN", nil, nil }

func (l loginClient) Next(challenge []byte) ([]byte, error) {
	switch string(challenge) {
	case "Username:":
		return []byte(l.user), nil
	case "Password:":
		return []byte(l.pass), nil
	}
	return nil, sasl.ErrUnexpectedServerChallenge
}
