// The soak's exact counter (bench/soak.mjs): every getppid(2) of one process, filtered to it in
// the kernel, so that with --no-process-events everything in the ring is that process's calls:
// seen + lost must equal the calls the process says it made.
// Live use: tw watch ./bench/soak-count.mjs PID --no-process-events --json
export default {
  name: 'soak-count',
  summary: 'Count the getppid calls of one process, filtered in the kernel (bench/soak.mjs)',
  args: { pid: { type: 'integer', required: true } },
  events: ['syscalls:sys_enter_getppid'],
  filter: ({ pid }) => ({ 'syscalls:sys_enter_getppid': `common_pid == ${pid}` }),
  state: () => ({ seen: 0 }),
  on: {
    'syscalls:sys_enter_getppid'(e, ctx) {
      if (e.pid === ctx.args.pid) ctx.state.seen++;
    },
  },
  end: (ctx) => ({ seen: ctx.state.seen, lost: ctx.lost }),
};
