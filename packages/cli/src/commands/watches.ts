import { TwCommand } from '../lib/base.js';
import { loadWatches, watchId } from '../lib/watches.js';
import { watchUsage } from '../lib/watch-options.js';

export default class Watches extends TwCommand {
  static override summary = 'List the installed watches.';
  static override description = `Watches come from plugins: npm packages installed with "tw plugins install" (and the ones tw ships with).
A watch whose name another plugin's watch also has is listed by its qualified name, <plugin>:<watch> (e.g. my-plugin:syscalls), which always runs that one; its bare name runs the one tw ships, if either does, else it is an error that lists the qualified names.`;
  static override examples = ['<%= config.bin %> <%= command.id %>', '<%= config.bin %> <%= command.id %> --json'];
  static override enableJsonFlag = true;

  async run(): Promise<unknown> {
    await this.parse(Watches); // rejects unknown flags and arguments
    const all = await loadWatches(this.config);
    const rows = all.map((w) => {
      const { watch, plugin, qualified, clash } = w;
      const args = watchUsage(watch);
      const events = typeof watch.events === 'function' ? ['(depends on arguments)'] : [...watch.events];
      // id: what to type after "tw watch" (the qualified name when the name clashes)
      return { name: watch.name, id: watchId(w), qualified, clash, usage: [watchId(w), ...args].join(' '), summary: watch.summary, plugin, events, probes: [...(watch.probes ?? [])] };
    });
    if (!this.jsonEnabled()) {
      const w = Math.max(...rows.map((r) => r.usage.length), 5);
      for (const r of rows) this.log(`${r.usage.padEnd(w)}  ${r.summary}`);
      this.log(`\nRun one: tw watch <name> [args] --input FILE   (tw watch --help for more)`);
    }
    return { watches: rows };
  }
}
