// A minimal watch for bench/live.sh: counts raw_syscalls:sys_enter events per CPU (the
// cheapest useful handler), so the benchmark measures tw's reading + decoding + dispatch.
// Live use: tw watch ./bench/count-storm.mjs --duration 5s --json --buffer-kb 1024
export default {
  name: 'count-storm',
  summary: 'Count raw_syscalls:sys_enter events per CPU (bench/live.sh)',
  events: ['raw_syscalls:sys_enter'],
  state: () => ({ total: 0, perCpu: [] }),
  on: {
    'raw_syscalls:sys_enter'(e, ctx) {
      const s = ctx.state;
      s.total++;
      const c = e.cpu;
      s.perCpu[c] = (s.perCpu[c] ?? 0) + 1;
    },
  },
  end(ctx) {
    const perCpu = {};
    ctx.state.perCpu.forEach((n, c) => {
      if (n !== undefined) perCpu[c] = n;
    });
    return { total: ctx.state.total, perCpu, lost: ctx.lost };
  },
};
