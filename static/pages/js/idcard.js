// Resident ID numbers (GB 11643-1999): 17 digits and an ISO 7064 MOD 11-2 check character.
// Checked here only to catch typing slips at once; the server decides.

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = "10X98765432";

export function isResidentId(text) {
  const number = String(text).trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(number)) return false;
  const sum = WEIGHTS.reduce((total, weight, i) => total + weight * Number(number[i]), 0);
  return CHECK[sum % 11] === number[17];
}
