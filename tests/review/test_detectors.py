"""Detector behaviour that the corpus showed to be wrong once (held-out rounds 3 and 4), on
new sentences: the fixes are general (parse, lemmas, who is speaking), not tied to one draft."""

from __future__ import annotations

import pytest

from countersignal.review import review_article


def fired(text: str, language: str = "en") -> set[str]:
    return {f.rule_id for f in review_article(text, language=language).findings}


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Two marksmen are kneeling behind the wall of the bus depot.", "en"),
        ("Dozens of shoppers are sheltering inside the cinema on the top floor.", "en"),
        ("Снайперы сидят на крыше вокзала, а заложники прячутся в подвале.", "ru"),
    ],
)
def test_present_positions_with_a_place_are_operational_detail(text: str, language: str) -> None:
    assert "ongoing_operation" in fired(text, language)


@pytest.mark.parametrize(
    "text",
    [
        "Two marksmen were kneeling behind the wall of the depot until the siege ended.",
        "Three officers remain in hospital with burns.",
        "Police are waiting for the results of the tests.",
        "The gunman is hiding in the basement, according to a witness.",
    ],
)
def test_past_placeless_or_attacker_positions_are_not(text: str) -> None:
    assert "ongoing_operation" not in fired(text)


def test_an_attackers_post_is_not_a_victims_post() -> None:
    attacker = 'The bomber\'s last post on Facebook read: "You will all remember this day."'
    assert "grief_children_hospitals" not in fired(attacker)
    victim = 'Anna Weiss posted on Instagram an hour before the concert: "Best night ever!"'
    assert "grief_children_hospitals" in fired(victim)
    ru = "Стрелок написал в соцсетях за час до нападения: «Вы все запомните этот день»."
    assert "grief_children_hospitals" not in fired(ru, "ru")


def test_a_request_not_to_show_footage_is_not_showing_it() -> None:
    asked = "Survivors urged broadcasters never to show the video the gunman filmed."
    assert "attacker_footage" not in fired(asked)
    negated = "The attacker's stream does not show the victims' faces, police said."
    assert "attacker_footage" not in fired(negated)
    shown = "The video the gunman filmed shows him walking into the hall."
    assert "attacker_footage" in fired(shown)


def test_paraphrases_from_round_three() -> None:
    assert "glorification" in fired("The bombers fought like lions to the last.")
    assert "glorification" not in fired("Лев Орлов помогал раненым до приезда скорой.", "ru")
    assert "manifesto_propaganda" in fired("The group's propaganda video is embedded below.")
    assert "unattributed_figures" in fired("The attacker was probably radicalised online.")


# Held-out round 4's errors, on new sentences (fixed by stricter evidence, not by lexicon
# entries for the drafts themselves).


def test_a_former_member_is_not_the_group_speaking() -> None:
    former = (
        'A one-time recruiter for the cell, who left it years ago, said: "They told us we were '
        "heroes, but they only wanted bodies for their cameras, and the young men who believed "
        'them are now dead or in prison for the rest of their lives."'
    )
    assert "perpetrator_platform" not in fired(former)
    leader = (
        "The cell's leader said in a recorded message: \"We will keep striking the city until "
        "every soldier has left our land, and nobody who helps them will be safe from us, not "
        'today and not in the years to come."'
    )
    assert "perpetrator_platform" in fired(leader)
    ru = (
        "Бывший член ячейки рассказал: «Нам говорили, что мы герои, но им были нужны только "
        "тела для камер, и ребята, которые им поверили, теперь мертвы или сидят в тюрьме до "
        "конца жизни»."
    )
    assert "perpetrator_platform" not in fired(ru, "ru")


def test_a_victim_named_often_is_not_made_the_perpetrator() -> None:
    tribute = (
        "Mary Stone, 61, was named by police as one of those killed. Mary Stone taught piano. "
        "Stone ran the choir. Stone loved her garden. Stone's neighbours said she was kind. "
        "The attacker fled."
    )
    assert "perpetrator_prominence" not in fired(tribute)


@pytest.mark.parametrize(
    ("helper", "casualty", "language"),
    [
        (
            "Tom Reed, a paramedic, spent the night treating the wounded.",
            "Tom Reed, a paramedic, was wounded in the second blast.",
            "en",
        ),
        (
            "Фельдшер Иван Рид всю ночь перевязывал раненых.",
            "Фельдшер Иван Рид был ранен при втором взрыве.",
            "ru",
        ),
    ],
)
def test_helping_the_injured_is_not_being_one(helper: str, casualty: str, language: str) -> None:
    assert "next_of_kin" not in fired(helper, language)
    assert "next_of_kin" in fired(casualty, language)


def test_a_passive_release_and_a_report_are_sources() -> None:
    assert "next_of_kin" not in fired("Иван Рид был назван полицией среди погибших.", "ru")
    reported = "Не менее десяти человек погибли, говорится в докладе."
    assert "unattributed_figures" not in fired(reported, "ru")


def test_things_put_somewhere_are_not_positions() -> None:
    hidden = "The weapons are hidden under the floor of the garage, the letter says."
    assert "ongoing_operation" not in fired(hidden)
    assert "ongoing_operation" in fired("Shoppers are hiding under the counters.")


def test_a_number_counting_something_else_is_not_a_casualty_figure() -> None:
    assert "unattributed_figures" not in fired("Investigators found bodies in four houses.")
    assert "unattributed_figures" not in fired("Следователи нашли тела в четырёх домах.", "ru")
    assert "unattributed_figures" in fired("Twelve people were injured in two separate blasts.")


# Held-out round 5's errors, on new sentences: who speaks when a relative clause mentions the
# attacker, consent to publish a name, and attribution in either aspect.

_LONG = (
    "He wanted to be heard, and my job was to keep him talking. In the end he was tired, he "
    "was hungry, and he let the last three people walk out."
)
_LONG_RU = (
    "«Он хотел, чтобы его услышали, а моя задача была не дать ему замолчать. В конце концов "
    "он устал, проголодался и отпустил последних трёх человек, а потом сдался полиции»."
)


def test_a_relative_clause_about_the_attacker_does_not_make_him_the_speaker() -> None:
    pronoun = f'A chaplain, who visited the gunman in prison twice, said: "{_LONG}"'
    embedded = f'A coach who once trained at the same club as the attacker told us: "{_LONG}"'
    assert "perpetrator_platform" not in fired(pronoun)
    assert "perpetrator_platform" not in fired(embedded)
    # the attacker speaking, and a message the attacker wrote, still count
    assert "perpetrator_platform" in fired(f'The man who is holding the hostages said: "{_LONG}"')
    assert "perpetrator_platform" in fired(f'Police released the note the gunman wrote: "{_LONG}"')
    ru = "Священник, который когда-то служил в той же церкви, что и нападавший, сказал нам: "
    assert "perpetrator_platform" not in fired(ru + _LONG_RU, "ru")
    assert "perpetrator_platform" in fired("Стрелок сказал: " + _LONG_RU, "ru")


def test_consent_to_publish_a_name_is_a_release() -> None:
    injured = "Tom Ash was injured in the blast."
    assert "next_of_kin" not in fired(injured + " His family allowed us to publish his name.")
    assert "next_of_kin" in fired(injured + " His family has not agreed to his name being used.")
    ru = "Али Рахман был ранен в ногу."
    assert "next_of_kin" not in fired(ru + " Родные разрешили назвать его имя.", "ru")
    assert "next_of_kin" in fired(ru + " Семья Рахмана не разрешила публиковать его имя.", "ru")


def test_attribution_does_not_depend_on_the_verbs_aspect() -> None:
    for verb in ("заявили", "заявляют", "сообщили", "сообщают", "подтверждают"):
        text = f"Волонтёры {verb}, что при обстреле погибли не менее семи человек."
        assert "unattributed_figures" not in fired(text, "ru"), verb
    assert "unattributed_figures" in fired("При обстреле погибли не менее семи человек.", "ru")


def test_round_five_misses_found_by_general_means() -> None:
    # a code word given in single quotes or by its capitalised name
    assert "hoax_threat_details" in fired("The hoaxer used the code word 'Green Lantern'.")
    assert "hoax_threat_details" not in fired("Police said no code word had been used.")
    # the perpetrator's own document offered to readers, not somebody else's
    offered = "The bomber's diary can be downloaded from the link below."
    assert "manifesto_propaganda" in fired(offered)
    other = "The diary of a nurse who treated the bomber's victims can be downloaded below."
    assert "manifesto_propaganda" not in fired(other)
    # a bare genitive names the doer of the violence in Russian; "на" names its target
    assert "stigmatising_identity" in fired("Насилие беженцев пугает жителей.", "ru")
    assert "stigmatising_identity" not in fired("Нападение на беженцев осудили все.", "ru")


def test_an_apposition_with_an_attack_clause_identifies_the_perpetrator() -> None:
    text = (
        "Ella Moss, the woman who opened fire at the museum, was 31. Moss grew up nearby. "
        "Moss worked in a bakery. Moss bought the gun in May. Moss lived alone. Moss left a note."
    )
    assert "perpetrator_prominence" in fired(text)
    helper = text.replace("the woman who opened fire at", "the guide who was working in")
    assert "perpetrator_prominence" not in fired(helper)


# round 6's errors, on new sentences


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (
            "Marksmen are lying on the roof of the depot. The stand-off came to an end at noon.",
            "en",
        ),
        ("Снайперы лежат на крыше склада. Противостояние прекратилось в полдень.", "ru"),
        ("Бойцы стоят у ворот завода, хотя захват давно завершился.", "ru"),
    ],
)
def test_a_verb_of_ending_with_the_incident_as_subject_means_it_is_over(
    text: str, language: str
) -> None:
    assert "ongoing_operation" not in fired(text, language)


def test_an_incident_that_has_not_ended_is_still_going_on() -> None:
    text = "Снайперы лежат на крыше склада, а штурм ещё не закончился."
    assert "ongoing_operation" in fired(text, "ru")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The bomber's recording was shown to the jurors at the trial on Monday.", "en"),
        ("Запись подрывника показали суду в понедельник.", "ru"),
        ("Ролик стрелка видели присяжные, но судья запретил публиковать его.", "ru"),
    ],
)
def test_footage_shown_in_court_or_banned_is_not_published(text: str, language: str) -> None:
    assert "attacker_footage" not in fired(text, language)


def test_footage_shown_to_an_audience_outside_court_still_counts() -> None:
    assert "attacker_footage" in fired("Запись подрывника показали зрителям в понедельник.", "ru")


def test_a_count_is_not_read_across_a_comma_on_a_broken_parse() -> None:
    text = "Взрывом сорвало крыши двум автобусам, тела лежали у входа."
    assert "unattributed_figures" not in fired(text, "ru")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("A tide of fear is spreading through the suburbs.", "en"),
        ("Tomorrow the target could be your office.", "en"),
        ("No parent can feel safe sending a child to school now.", "en"),
        ("Страх пришёл в каждый дом, и завтра жертвой может стать любой из нас.", "ru"),
    ],
)
def test_fear_mongering_in_the_newsrooms_voice(text: str, language: str) -> None:
    assert "sensationalism" in fired(text, language)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ('A caretaker said: "No one is safe here now."', "en"),
        ("Residents told us they fear it could happen in their town.", "en"),
        ("Nowhere was safe during the four-hour siege.", "en"),
        ("Panic spread through the crowd as the shots rang out.", "en"),
        ("По словам жителей, теперь никто не чувствует себя в безопасности.", "ru"),
    ],
)
def test_quoted_attributed_or_past_fear_is_not(text: str, language: str) -> None:
    assert "sensationalism" not in fired(text, language)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The raiders, whom local radio calls heroes of the resistance, looted the depot.", "en"),
        ("Nearby villages call the dead gunmen martyrs, our correspondent found.", "en"),
        ("Налётчиков, которых в чатах именуют мучениками, похоронили в четверг.", "ru"),
    ],
)
def test_a_label_given_as_other_peoples_naming_is_distanced(text: str, language: str) -> None:
    assert "glorification" not in fired(text, language)


def test_a_label_in_the_newsrooms_own_voice_still_counts() -> None:
    assert "glorification" in fired("The raiders died as martyrs at the depot gate.", "en")


_LONG_EN = (
    '"He used to help me with my homework and walk the dog every evening. I keep reading the '
    'news and asking myself how the person I grew up with could do something so cruel."'
)
_LONG_RU = (
    "«Он помогал мне с уроками и каждый вечер гулял с собакой. Я читаю новости и не понимаю, "
    "как человек, с которым я вырос, мог сделать что-то настолько жестокое»."
)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        (f"The bomber's younger brother told reporters: {_LONG_EN}", "en"),
        (f"A neighbour of the gunman said: {_LONG_EN}", "en"),
        (f"Брат подрывника рассказал журналистам: {_LONG_RU}", "ru"),
        (f"Одноклассница стрелка, которая живёт в соседнем доме, сказала: {_LONG_RU}", "ru"),
    ],
)
def test_a_relative_or_friend_of_the_attacker_is_not_the_attacker(text: str, language: str) -> None:
    assert "perpetrator_platform" not in fired(text, language)


def test_a_leader_of_the_group_still_speaks_for_it() -> None:
    text = (
        'The leader of the cell said in a recorded message: "We chose the station because it '
        "is where the ministers' families travel, and we will choose other stations until "
        'every prisoner is released and the soldiers have gone home."'
    )
    assert "perpetrator_platform" in fired(text, "en")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Somali gangsters robbed the petrol station at knifepoint.", "en"),
        ("A Syrian mob smashed the shop windows on Saturday.", "en"),
        ("Сирийские бандиты ограбили заправку.", "ru"),
    ],
)
def test_an_identity_word_on_a_criminal_noun_is_stigmatising(text: str, language: str) -> None:
    assert "stigmatising_identity" in fired(text, language)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The Somali shopkeeper chased off the robbers.", "en"),
        ("Residents described what they called a Syrian gang on the estate.", "en"),
        ("Police broke up a gang that robbed the petrol station.", "en"),
        ("Сирийский врач помог раненым у заправки.", "ru"),
    ],
)
def test_neutral_or_distanced_identity_words_are_not(text: str, language: str) -> None:
    assert "stigmatising_identity" not in fired(text, language)
