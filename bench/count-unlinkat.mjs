// A minimal watch for bench/bpf.sh: counts tw:unlinkat events (the shipped probe `unlinkat`,
// brought up here through BPF), and among them those whose pathname is <path> (the storm's), so
// every record is decoded down to its string, as bpftrace's printf("%s\n", str(args->pathname))
// reads it.
// Live use: tw watch ./bench/count-unlinkat.mjs /no/such/file --probe-backend bpf --duration 5s --json
export default {
  name: 'count-unlinkat',
  summary: 'Count tw:unlinkat events, and those of one pathname (bench/bpf.sh)',
  args: { path: { type: 'string', required: true } },
  events: ['tw:unlinkat'],
  probes: ['unlinkat'],
  state: () => ({ total: 0, storm: 0 }),
  on: {
    'tw:unlinkat'(e, ctx) {
      const s = ctx.state;
      s.total++;
      if (e.fields.pathname === ctx.args.path) s.storm++;
    },
  },
  end: (ctx) => ({ total: ctx.state.total, storm: ctx.state.storm, lost: ctx.lost }),
};
