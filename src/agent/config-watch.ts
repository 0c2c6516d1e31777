// Notices when the config file may have changed. The folder is watched, not the file: editors
// and `kubectl`-style atomic writers replace the file by renaming a new one over it (or swap a
// `..data` symlink), which ends a watch on the old inode. The agent re-reads the file and
// compares contents, so a spurious signal costs one read.
//
// inotify says nothing when the folder itself is removed or replaced, and a folder that does
// not exist yet cannot be watched: ensure() (called at start and on every periodic resync)
// notices both and watches again.
import { statSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import type { Logger } from "../base/log";

export class ConfigWatcher {
  private watcher: FSWatcher | null = null;
  /** Inode of the folder being watched, to notice it was replaced. */
  private ino: number | null = null;
  private readonly dir: string;
  private readonly base: string;

  constructor(
    file: string,
    private readonly log: Logger,
    private readonly onChange: () => void,
  ) {
    this.dir = dirname(file);
    this.base = basename(file);
  }

  /** Watches the folder unless that already works; says whether a (re)watch began. */
  ensure(): boolean {
    const ino = this.folderIno();
    if (this.watcher && ino === this.ino) return false;
    this.close();
    if (ino === null) {
      this.log.warn("cannot watch the config folder: it does not exist; checking again at the next resync", { dir: this.dir });
      return false;
    }
    try {
      this.watcher = watch(this.dir, { persistent: true }, (_event, name) => {
        // Only our file, or what an atomic writer renames into place (kubelet's "..data").
        if (name === null || name === this.base || String(name).startsWith("..")) this.onChange();
      });
      this.watcher.on("error", (err) => {
        this.log.warn("config folder watch failed; watching again at the next resync", { dir: this.dir, error: err.message });
        this.close();
      });
      this.ino = ino;
      return true;
    } catch (err) {
      this.log.warn("cannot watch the config folder; checking again at the next resync", { dir: this.dir, error: (err as Error).message });
      this.close();
      return false;
    }
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    this.ino = null;
  }

  private folderIno(): number | null {
    try {
      return statSync(this.dir).ino;
    } catch {
      return null;
    }
  }
}
