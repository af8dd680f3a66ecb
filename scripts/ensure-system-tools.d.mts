export declare const TOOLS: Record<string, { command: string; pkg: string }>;
export declare const DEFAULT_TOOLS: string[];
export declare const SYSTEM_DIRS: string[];
export declare function systemCommand(command: string, dirs?: string[]): string | undefined;
