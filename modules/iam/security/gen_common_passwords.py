#!/usr/bin/env python3
"""Generates common_passwords.cpp: the bundled list of common passwords (SPEC §4).

The policy already rejects anything shorter than 12 characters, so the list concentrates on
what people type to get past a 12-character minimum: the classic leaked-password favourites
with digits or symbols appended, doubled words, long digit runs and keyboard walks. A few
hundred short classics are kept as well, so the list is still meaningful if the minimum
changes. Entries are lower case; matching is case-insensitive.

Run `python3 gen_common_passwords.py > common_passwords.cpp` after editing.
"""

import itertools

# The most frequent entries of public leaked-password rankings (short ones included).
CLASSICS = """
123456 password 123456789 12345678 12345 qwerty 1234567 111111 1234567890 123123 abc123
1234 password1 iloveyou 1q2w3e4r 000000 qwerty123 zaq12wsx dragon sunshine princess letmein
654321 monkey 27653 1qaz2wsx 123321 qwertyuiop superman asdfghjkl trustno1 football
baseball welcome master shadow michael jennifer 666666 jordan23 hunter2 hunter buster
soccer harley batman andrew tigger charlie robert thomas hockey ranger daniel starwars
klaster 112233 george computer michelle jessica pepper 131313 freedom 7777777 maggie 159753
aaaaaa ginger joshua cheese amanda summer love ashley nicole chelsea biteme matthew access
yankees 987654321 dallas austin thunder taylor matrix mobilemail mom monitor monitoring
montana moon moscow passw0rd p@ssw0rd p@ssword admin admin123 administrator root toor
changeme secret qwerty1 qwerty12 qwerty1234 password123 password12 welcome1 welcome123
iloveyou1 iloveyou2 princess1 sunshine1 football1 baseball1 monkey1 dragon1 master1
shadow1 michael1 letmein1 abc12345 abcd1234 a123456 123abc 1q2w3e 1q2w3e4r5t qazwsx
qazwsxedc zxcvbnm asdfgh asdf1234 1234qwer qwer1234 q1w2e3r4 987654 121212 123654
789456 456789 147258369 159357 lovely loveme flower purple orange banana samsung google
facebook linkedin myspace1 whatever internet cookie chocolate butterfly basketball killer
pokemon minecraft fortnite liverpool arsenal barcelona realmadrid juventus manchester
mustang corvette ferrari porsche mercedes yamaha hello hello123 hellohello secret123
test test123 testing guest guest123 user user123 login demo demo123 default qwe123
""".split()

# Words people build longer passwords from.
BASES = """
password passw0rd p@ssw0rd p@ssword pass iloveyou welcome letmein qwerty qwertyuiop
sunshine princess football baseball basketball soccer hockey dragon monkey master shadow
superman batman spiderman michael jennifer jessica ashley nicole daniel thomas matthew
andrew joshua charlie robert william jordan hunter ranger buster tigger ginger pepper
starwars whatever computer internet administrator admin changeme secret summer winter
spring autumn hello freedom liverpool chelsea arsenal pokemon minecraft fortnite cookie
chocolate butterfly killer flower purple orange banana samsung google facebook microsoft
trustno1 loveme lovely angel angels beautiful family forever friends jesus christ
blessed heaven darkness mylove babygirl sweetheart princesa qwerty123 abc123 abcdef
asdfghjkl zxcvbnm 1q2w3e4r 1qaz2wsx zaq12wsx qazwsx letmein1 default guest test
welcome1 secure security access login master1 mustang ferrari yankees cowboys
""".split()

SUFFIXES = """
_ 1 12 123 1234 12345 123456 1234567 12345678 123456789 1234567890 ! 1! 12! 123! 1234!
12345! @123 #1 01 007 69 99 00 000 111 321 4321 54321 2000 2010 2015 2016 2017 2018 2019
2020 2021 2022 2023 2024 2025 2026 2020! 2021! 2022! 2023! 2024! 2025! 2026! @2024 @2025
123123 1111 0000 11 22 13 7 777 !! !!! !@# !@#$ ? . *
""".split()

# Long passwords that are common on their own.
LONG = """
123456789012 1234567890123 12345678901234 123456789012345 1234567890123456
12345678901234567890 098765432109 0987654321098 109876543210 012345678901 0123456789012
111111111111 000000000000 121212121212 123123123123 123412341234 123451234512345
112233445566 11223344556677 1122334455667788 123321123321 147258369147 159753159753
147852369147 987654321098 987654321987 123456123456 123456654321 654321654321
111222333444 100200300400 010203040506 1020304050 1234512345 12341234 1231231234
123456789123 123456789987654321 123456789abc 12345678abcd 1234567890qwerty
qwertyuiop123 qwertyuiop1234 qwertyuiop12345 qwertyuiop! qwertyuiop1 qwertyuiopasdf
qwertyuiopasdfghjkl qwertyuiopasdfghjklzxcvbnm qwertyuiop[] qwertyuiop[]\\ qwertyqwerty
qwerty123456 qwerty1234567 qwerty12345678 qwerty123456789 qwertyasdfgh qwertyasdfghzxcvbn
qwerasdfzxcv qwer1234asdf 1234qwerasdf 1234qwerasdfzxcv qweasdzxc123 qweasdzxcqweasdzxc
qweqweqweqwe qwe123qwe123 asdasdasdasd asdfasdfasdf asdfghjkl123 asdfghjkl1234
asdfghjklzxcvbnm asdfghjkl;' zxcvbnm12345 zxcvbnm123456 zxcvbnmasdfghjkl zxczxczxczxc
mnbvcxzlkjhgfdsapoiuytrewq poiuytrewq123 poiuytrewq1234 lkjhgfdsa123 azertyuiop123
azertyuiop1234 azertyuiopqsdfghjklm qwertzuiop123 qwertzuiop1234 1qaz2wsx3edc
1qaz2wsx3edc4rfv 1qaz2wsx3edc4rfv5tgb 1qazxsw23edc zaq12wsxcde3 zaq12wsxcde34rfv
zaq1zaq1zaq1 zaq1xsw2cde3 !qaz@wsx#edc !qaz2wsx3edc !qaz@wsx3edc qazwsxedcrfv
qazwsxedcrfvtgb qazwsxedcrfvtgbyhn qazwsxedc123 qazwsx123456 1q2w3e4r5t6y 1q2w3e4r5t6y7u
1q2w3e4r5t6y7u8i 1q2w3e4r5t6y7u8i9o0p q1w2e3r4t5y6 q1w2e3r4t5y6u7 q1w2e3r4t5y6u7i8o9p0
1q2w3e4r1q2w3e4r 1234qwer!@#$ !@#$%^&*()_+ !@#$%^&*() !@#$%^&*()12 1234567890-= `1234567890-=
qwertyuiop[]asdfghjkl;'zxcvbnm,./ abcdefghijkl abcdefghijklm abcdefghijklmnop
abcdefghijklmnopqrstuvwxyz abcabcabcabc abc123abc123 abcd1234abcd abcd12345678
aaaaaaaaaaaa aaaaaaaaaaaaaaaa abababababab a1b2c3d4e5f6 a1b2c3d4e5f6g7 1a2b3c4d5e6f
passwordpassword passwordpassword1 password1password passwordqwerty qwertypassword
password1234 password12345 password123456 password1234567 password12345678
password123456789 password!123 password@123 password123! password1234! password2024!
mypassword123 mypassword1234 mysecretpassword newpassword123 newpassword1234
changemenow1 changeme1234 changeme12345 changeme123! pleasechangeme letmein12345
letmeinplease letmeinnow123 welcome12345 welcome123456 welcome123! welcometothejungle
welcomehome123 iloveyou1234 iloveyou12345 iloveyou123456 iloveyouforever iloveyoutoo1
iloveyousomuch iloveyoubaby iloveyoumom iloveyoumore iloveyou4ever iloveyouiloveyou
iloveu123456 ilovemyself1 ilovemymom123 ilovemyfamily ilovejesus123 imissyou1234
trustno1trustno1 administrator1 administrator123 adminadminadmin admin1234567 admin123456789
rootroot1234 rootpassword superuser123 supersecret123 supersecretpassword topsecret123
correcthorsebatterystaple correcthorse thequickbrownfox thequickbrownfoxjumpsoverthelazydog
onetwothreefour letmeinletmein opensesame123 abracadabra123 mastermaster masterkey123
helloworld123 helloworld1234 hellohello123 hellokitty123 goodmorning1 goodluck1234
happybirthday happybirthday1 happydays123 summertime123 wintertime123 christmas123
merrychristmas football12345 basketball123 baseball12345 soccerball12 spiderman123
superman12345 batman123456 starwars12345 maytheforcebewithyou harrypotter1 harrypotter123
pokemon12345 minecraft123 minecraft1234 fortnite1234 liverpool1234 manchesterunited
manutd123456 chelseafc1234 arsenalfc1234 barcelona123 realmadrid123 michaeljordan
jordan231234 blink182blink chocolate123 butterfly123 sunflower123 princess12345
sweetheart12 babygirl1234 myspace12345 facebook1234 facebook12345 google123456
microsoft123 linkedin1234 samsung12345 computer1234 internet1234 qwertyuiop0987
1111111111111 2222222222222 666666666666 777777777777 888888888888 999999999999
123456789qwe 123456789q 123456789a 123456789asd 1234567890a 1234567890q 0987654321qwerty
""".split()


def main() -> None:
    entries = set(w.lower() for w in CLASSICS + LONG)
    # Combinations shorter than the policy's minimum could never be chosen; leave them out.
    for base in BASES:
        for combo in [base + base] + [base + ("" if s == "_" else s) for s in SUFFIXES]:
            if len(combo) >= 12:
                entries.add(combo.lower())
    entries = sorted(entries)  # byte order, matching std::string_view's operator<
    print("// Generated by gen_common_passwords.py; edit that script and rerun it.")
    print("// The bundled list of common passwords (SPEC §4), lower case and sorted.")
    print()
    print('#include "common_passwords.hpp"')
    print()
    print("#include <algorithm>")
    print("#include <string_view>")
    print()
    print("namespace crm::iam {")
    print("namespace {")
    print()
    print("using namespace std::string_view_literals;")
    print()
    print("constexpr std::string_view kCommonPasswords[] = {")
    for entry in entries:
        escaped = entry.replace("\\", "\\\\").replace('"', '\\"')
        print(f'    "{escaped}"sv,')
    print("};")
    print()
    print("static_assert(std::ranges::is_sorted(kCommonPasswords));")
    print("static_assert(std::ranges::adjacent_find(kCommonPasswords) == std::ranges::end(kCommonPasswords));")
    print()
    print("}  // namespace")
    print()
    print("bool is_in_common_password_list(std::string_view lowercase) {")
    print("  return std::ranges::binary_search(kCommonPasswords, lowercase);")
    print("}")
    print()
    print("std::size_t common_password_list_size() noexcept { return std::size(kCommonPasswords); }")
    print()
    print("}  // namespace crm::iam")


if __name__ == "__main__":
    main()
