#!/usr/bin/env bash
# Regenerates the default prompts that ship inside the binary (assets/prompts/*.wav, embedded
# by host/src/prompts/system.rs): English speech from espeak-ng, the beep and the
# music-on-hold loop synthesised by sox, all as 8 kHz mono 16-bit WAV. A dev-time tool:
# the host never runs it. Needs espeak-ng and sox (apt-get install espeak-ng sox).
set -euo pipefail
cd "$(dirname "$0")/.."
out=assets/prompts
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# Telephony format, peaks at -3 dBFS, leading and trailing silence trimmed to 100 ms.
telephony() {
    sox -V1 "$1" -r 8000 -c 1 -b 16 -e signed-integer "$2" \
        silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 0.1 0.1 norm -3
}

speak() {
    local name=$1 text=$2
    espeak-ng -v en-us -s 145 -p 45 -w "$work/$name.wav" "$text"
    telephony "$work/$name.wav" "$out/$name.wav"
}

speak voicemail-greeting "The person you are calling is not available. Please leave a message after the tone."
speak voicemail-enter-pin "Please enter your PIN, followed by the hash key."
speak voicemail-no-messages "You have no messages."
speak voicemail-new-messages "You have new messages."
speak voicemail-message-menu "Press 1 to hear the message again, 7 to delete it, 9 to keep it."
speak voicemail-goodbye "Thank you. Goodbye."
speak invalid-option "That option is not valid."
speak goodbye "Goodbye."
speak call-may-be-recorded "This call may be recorded."
speak queue-welcome "All our agents are busy. Please hold."
speak queue-full "Sorry, all our lines are busy. Please call again later."
speak ivr-default-greeting "Welcome. Please dial the extension you want, or hold for an operator."

# The voicemail beep: 1 kHz for 400 ms, with 5 ms ramps so it does not click.
sox -V1 -n -r 8000 -c 1 -b 16 -e signed-integer "$out/beep.wav" synth 0.4 sine 1000 vol 0.5 fade 0.005 0.4 0.005

# Music on hold: eight arpeggiated plucked chords (C Am F G C Am Dm G, 3 s each, 24 s),
# ending on G so that the loop resolves back to C. pluck only synthesises at 44.1 kHz.
chord() {
    local name=$1
    shift
    sox -V1 -r 44100 -c 4 -n -r 44100 -c 4 "$work/chord-$name.wav" \
        synth 3 pluck "$1" pluck "$2" pluck "$3" pluck "$4" delay 0 0.3 0.6 0.9 fade 0 3 0.4
    sox -V1 "$work/chord-$name.wav" -c 1 "$work/mono-$name.wav" remix -
}
chord 1 C3 E4 G4 C5
chord 2 A2 E4 A4 C5
chord 3 F2 F4 A4 C5
chord 4 G2 D4 G4 B4
chord 5 C3 G4 C5 E5
chord 6 A2 A4 C5 E5
chord 7 D3 F4 A4 D5
chord 8 G2 B4 D5 G5
sox -V1 "$work"/mono-{1..8}.wav "$work/music.wav"
sox -V1 "$work/music.wav" -r 8000 -c 1 -b 16 -e signed-integer "$out/music-on-hold.wav" lowpass 3400 norm -6

ls -l "$out"
