// A minimal observable value, and a hook that re-renders a component when
// the value changes.

import { useEffect, useState } from "preact/hooks";

export class Signal<T> {
  #value: T;
  #listeners = new Set<(value: T) => void>();

  constructor(value: T) {
    this.#value = value;
  }

  get value(): T {
    return this.#value;
  }

  set(value: T) {
    if (Object.is(value, this.#value)) return;
    this.#value = value;
    for (const listener of [...this.#listeners]) listener(value);
  }

  subscribe(listener: (value: T) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** The signal's current value; the component re-renders when it changes. */
export function useSignal<T>(signal: Signal<T>): T {
  const [, setTick] = useState(0);
  const seen = signal.value;
  useEffect(() => {
    const unsubscribe = signal.subscribe(() => setTick((t) => t + 1));
    // It may have changed between the render and this effect.
    if (!Object.is(signal.value, seen)) setTick((t) => t + 1);
    return unsubscribe;
  }, [signal]);
  return seen;
}
