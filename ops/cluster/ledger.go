package cluster

// LedgerStream is the name of onebook's ledger stream (events/ledger).
const LedgerStream = "LEDGER"
