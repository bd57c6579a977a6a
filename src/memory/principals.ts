/**
 * The memory store's index of principals: for each principal, the ids of the
 * sessions created for it, in creation order. The store runs every operation
 * in one step, so the index is kept exact: an id leaves it as soon as a read
 * finds its session gone.
 * @module
 */

/** principal -> (id -> creation sequence number). */
export class MemoryPrincipalIndex {
  private readonly byPrincipal = new Map<string, Map<string, number>>();
  private seq = 0;

  /** Records that `id` was just created for `principal`. */
  add(principal: string, id: string): void {
    let ids = this.byPrincipal.get(principal);
    if (!ids) this.byPrincipal.set(principal, (ids = new Map()));
    ids.delete(id); // a re-created id moves to the end
    ids.set(id, ++this.seq);
  }

  /**
   * The ids of `principal` in creation order, for which `isLive` holds; the
   * others are dropped from the index on the way (so it never outgrows the
   * live sessions by more than those ended since the last read).
   */
  live(principal: string, isLive: (id: string) => boolean): string[] {
    const ids = this.byPrincipal.get(principal);
    if (!ids) return [];
    const out: string[] = [];
    for (const id of ids.keys()) {
      if (isLive(id)) out.push(id);
      else ids.delete(id);
    }
    if (ids.size === 0) this.byPrincipal.delete(principal);
    return out;
  }

  /** Drops every principal's dead ids (the store's periodic sweep). */
  sweep(isLive: (principal: string, id: string) => boolean): void {
    for (const principal of [...this.byPrincipal.keys()]) this.live(principal, (id) => isLive(principal, id));
  }
}
