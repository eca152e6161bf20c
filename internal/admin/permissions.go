package admin

import "github.com/xtramail/xtramail/internal/store"

// Operation names: the keys of the permission table and the actions of
// the audit log.
const (
	OpResellerAdd    = "reseller.add"
	OpResellerList   = "reseller.list"
	OpResellerRemove = "reseller.remove"
	OpCustomerAdd    = "customer.add"
	OpCustomerList   = "customer.list"
	OpCustomerRemove = "customer.remove"
	OpDomainAdd      = "domain.add"
	OpDomainList     = "domain.list"
	OpDomainSettings = "domain.settings"
	OpDomainDKIM     = "domain.dkim"
	OpDomainRemove   = "domain.remove"
	OpAddressAdd     = "address.add"
	OpAddressList    = "address.list"
	OpAddressEnable  = "address.enable"
	OpAddressDisable = "address.disable"
	OpAddressPass    = "address.password"
	OpAddressRemove  = "address.remove"
	OpAddressImport  = "address.import"
	OpSignInLink     = "address.signin_link"
	OpMessageList    = "message.list"
	OpMessageRestore = "message.restore"
	OpRedeliver      = "message.redeliver"
	OpLogSearch      = "log.search"
	OpQueueList      = "queue.list"
	OpQueueRetry     = "queue.retry"
	OpQueueDelete    = "queue.delete"
	OpAuditSearch    = "audit.search"
	OpAdminAdd       = "admin.add"
	OpAdminList      = "admin.list"
	OpAdminChange    = "admin.change"
	OpAdminRemove    = "admin.remove"
	OpTokenCreate    = "token.create"
	OpTokenList      = "token.list"
	OpTokenRevoke    = "token.revoke"
	OpTOTP           = "admin.totp"
	OpDashboard      = "dashboard"
	OpUsage          = "usage"
)

// permissions is the least role that may run each operation; the store
// then confines it to the principal's subtree. A customer admin runs the
// day-to-day work of their customer (addresses, passwords, domain
// settings, log, queue, restore, their own admins and tokens); a reseller
// admin also creates customers and adds or removes domains; only the
// provider creates resellers.
var permissions = map[string]store.Role{
	OpResellerAdd:    store.RoleProvider,
	OpResellerRemove: store.RoleProvider,
	OpResellerList:   store.RoleReseller,
	OpCustomerAdd:    store.RoleReseller,
	OpCustomerRemove: store.RoleReseller,
	OpCustomerList:   store.RoleCustomer,
	OpDomainAdd:      store.RoleReseller,
	OpDomainRemove:   store.RoleReseller,
	OpDomainList:     store.RoleCustomer,
	OpDomainSettings: store.RoleCustomer,
	OpDomainDKIM:     store.RoleCustomer,
	OpAddressAdd:     store.RoleCustomer,
	OpAddressList:    store.RoleCustomer,
	OpAddressEnable:  store.RoleCustomer,
	OpAddressDisable: store.RoleCustomer,
	OpAddressPass:    store.RoleCustomer,
	OpAddressRemove:  store.RoleCustomer,
	OpAddressImport:  store.RoleCustomer,
	OpSignInLink:     store.RoleCustomer,
	OpMessageList:    store.RoleCustomer,
	OpMessageRestore: store.RoleCustomer,
	OpRedeliver:      store.RoleCustomer,
	OpLogSearch:      store.RoleCustomer,
	OpQueueList:      store.RoleCustomer,
	OpQueueRetry:     store.RoleCustomer,
	OpQueueDelete:    store.RoleCustomer,
	OpAuditSearch:    store.RoleCustomer,
	OpAdminAdd:       store.RoleCustomer,
	OpAdminList:      store.RoleCustomer,
	OpAdminChange:    store.RoleCustomer,
	OpAdminRemove:    store.RoleCustomer,
	OpTokenCreate:    store.RoleCustomer,
	OpTokenList:      store.RoleCustomer,
	OpTokenRevoke:    store.RoleCustomer,
	OpTOTP:           store.RoleCustomer,
	OpDashboard:      store.RoleCustomer,
	OpUsage:          store.RoleCustomer,
}

// rank orders roles: a higher rank may do what a lower one may.
func rank(r store.Role) int {
	switch r {
	case store.RoleProvider:
		return 3
	case store.RoleReseller:
		return 2
	case store.RoleCustomer:
		return 1
	}
	return 0
}

// Can reports whether p's role may run op at all (the console hides what
// it may not); the object must still be in p's subtree.
func (p Principal) Can(op string) bool {
	min, ok := permissions[op]
	return ok && rank(p.Role) >= rank(min)
}
