package config

import (
	"fmt"
	"path/filepath"

	"github.com/onebook/onebook/events"
	"github.com/onebook/onebook/events/partition"
)

// checkPartitions checks the settings a partitioned deployment cannot
// take as they are: each cell has its own seal key and its own NATS user,
// so one key file or one set of credentials for the whole process would
// be a mistake, and an external NATS server needs the folder of the
// cells' credentials. It fills that folder's default with the embedded
// server.
func (c *Config) checkPartitions() error {
	if len(c.Partitions) == 0 {
		if c.NATSCredsDir != "" {
			return fmt.Errorf("nats-creds-dir: only with partitions (ONEBOOK_PARTITIONS); the single ledger uses NATS_CREDS or NATS_NKEY")
		}
		return nil
	}
	switch {
	case c.SealKeyFile != "":
		return fmt.Errorf("seal-key: with partitions each cell has its own seal key, DATA/<cell>/seal.key (e.g. DATA/p31/seal.key); unset ONEBOOK_SEAL_KEY")
	case c.NATSCreds != "" || c.NATSNKey != "":
		return fmt.Errorf("nats-creds: with partitions each cell connects as a user of its own account; put one file per cell in ONEBOOK_NATS_CREDS_DIR instead of NATS_CREDS or NATS_NKEY")
	case c.NATSURL != "" && c.NATSCredsDir == "":
		return fmt.Errorf("nats-creds-dir: with partitions and an external NATS server (NATS_URL), set ONEBOOK_NATS_CREDS_DIR to the folder of the cells' credentials (pNN.creds or pNN.nkey, nation.creds or nation.nkey)")
	case c.NATSURL == "" && c.NATSCredsDir == "":
		c.NATSCredsDir = filepath.Join(c.DataDir, "nats-users")
	}
	return nil
}

// Cells are the configurations of the cells of a partitioned deployment:
// one per province, in code order, then the national cell. Without
// partitions there are none: the process runs c itself, the single ledger.
func (c Config) Cells() []Config {
	if len(c.Partitions) == 0 {
		return nil
	}
	var out []Config
	for _, p := range c.Partitions {
		out = append(out, c.ForCell(p))
	}
	return append(out, c.ForCell(partition.Nation))
}

// ForCell derives the configuration of one cell from the deployment's: its
// own data folder (DATA/p31: the seal, pass, session and vault keys, so
// that a token of one province is refused by another), seal key, origin
// (ORIGIN/p/31), database (MONGO_DB_p31) and NATS credentials (in
// NATSCredsDir; read by app.CellAuth). The process-wide settings (HTTP and
// metrics listeners, the embedded servers' ports, WeChat) stay as they
// are: the cells share them. The demo fills each province's cell with
// data of its own region (app.DemoPlaceOf); the national cell has none.
func (c Config) ForCell(code events.Region) Config {
	name := partition.Name(code)
	cell := c
	cell.Partitions, cell.Cell = nil, code
	if code == partition.Nation {
		cell.Sourced = c.Partitions
	}
	cell.DataDir = filepath.Join(c.DataDir, name)
	cell.SealKeyFile = filepath.Join(cell.DataDir, "seal.key")
	cell.Origin = partition.Origin(c.Origin, code)
	cell.MongoDB = c.MongoDB + "_" + name
	cell.Demo = c.Demo && code != partition.Nation
	return cell
}
