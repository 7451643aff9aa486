import { colorErr as color } from './output.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * One spinner line on stderr while a command works before it has anything to print (connecting,
 * reading the registry, a global check), so a terminal never sits silent. Terminal only; cleared
 * before any other output: a log line, a prompt, the fleet view.
 */
class StatusLine {
  private text?: string;
  private timer?: NodeJS.Timeout;
  private frame = 0;
  private readonly stream = process.stderr;

  private get enabled(): boolean {
    return Boolean(this.stream.isTTY) && process.env.TERM !== 'dumb';
  }

  show(text: string): void {
    if (!this.enabled) return;
    this.text = text;
    if (!this.timer) {
      this.stream.write('\x1b[?25l');
      process.once('exit', this.restore);
      this.timer = setInterval(() => this.draw(), 100);
      this.timer.unref();
    }
    this.draw();
  }

  clear(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.text = undefined;
    this.stream.write('\r\x1b[2K\x1b[?25h');
    process.off('exit', this.restore);
  }

  private readonly restore = () => this.stream.write('\x1b[?25h');

  private draw(): void {
    if (this.text === undefined) return;
    this.frame += 1;
    const width = (this.stream.columns || 80) - 1;
    const line = `${FRAMES[this.frame % FRAMES.length]} ${this.text}`;
    this.stream.write(`\r\x1b[2K${color.cyan(line.length > width ? `${line.slice(0, width - 1)}…` : line)}`);
  }
}

export const statusLine = new StatusLine();
