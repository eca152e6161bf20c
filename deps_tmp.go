package xtramail
import (
 _ "github.com/emersion/go-smtp"
 _ "github.com/emersion/go-sasl"
 _ "github.com/emersion/go-message"
 _ "github.com/emersion/go-message/charset"
 _ "github.com/emersion/go-imap/v2/imapclient"
 _ "modernc.org/sqlite"
 _ "github.com/BurntSushi/toml"
 _ "golang.org/x/crypto/argon2"
 _ "golang.org/x/crypto/acme/autocert"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/prometheus/client_golang/prometheus/promhttp"
)

